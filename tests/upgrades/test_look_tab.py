"""The Upgrade tab as an admin sees it (issue 15): the subscription's whole tab strip with the
current tab marked, each plan's price per user per month in the tenant's currency, plans shown
to roles that may only look, and an upgraded subscription saying where its users went."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Price
from portal.formatting import day_text, money_text
from portal.models import Role
from tests.factories import UserFactory
from upgrades import engine
from upgrades.models import RunState, UpgradeCart

from .conftest import make_e4_tenant, place
from .test_look_html import amounts_not_right_aligned, empty_headers, text_of

pytestmark = pytest.mark.django_db


def tab_url(t, subscription_id=None):
    return reverse("upgrade_tab", args=[t.tenant.slug, subscription_id or t.e4.pk])


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def tab_html(t, client=None, subscription_id=None):
    response = (client or signed_in(t.admin)).get(tab_url(t, subscription_id))
    assert response.status_code == 200
    return response.content.decode()


def tab_strip(html):
    match = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', html, re.S)
    assert match, "no tab strip"
    return match.group(1)


# --- The tab strip ---------------------------------------------------------------------------


def test_the_upgrade_tab_shows_every_tab_of_the_strip_and_marks_itself_current():
    t = make_e4_tenant(users=3)
    strip = tab_strip(tab_html(t))
    links = re.findall(r"<a [^>]*>([^<]+)</a>", strip)
    assert links == ["Overview", "Licenses", "Add-ons", "Upgrade"]
    current = re.findall(r'<a href="([^"]+)"[^>]*aria-current="page"', strip)
    assert current == [tab_url(t)]
    detail = reverse("subscription_detail", args=[t.tenant.slug, t.e4.pk])
    for tab in ("overview", "licenses", "addons"):
        assert f'href="{detail}?tab={tab}"' in strip


def test_the_upgrade_tab_link_is_current_only_on_the_upgrade_tab():
    from django.template import Context, Template

    t = make_e4_tenant(users=1)
    template = Template("{% load upgrade_tags %}{% upgrade_tab_link s current=c %}")
    assert 'aria-current="page"' in template.render(Context({"s": t.e4, "c": True}))
    assert "aria-current" not in template.render(Context({"s": t.e4, "c": False}))
    assert 'class="current"' not in template.render(Context({"s": t.e4, "c": True}))


# --- Prices ----------------------------------------------------------------------------------


def test_each_plan_offered_shows_its_price_per_user_per_month_right_aligned():
    t = make_e4_tenant(users=3)
    html = tab_html(t)
    assert "Price per user per month" in html
    for code, price in (("O365_E5", "38.00"), ("M365_E5", "57.00"), ("M365_E5_NOAC", "53.75")):
        row = re.search(rf'<tr data-target="{code}".*?</tr>', html, re.S).group(0)
        assert f'<td class="num" data-price="{price}">{price}\u00a0USD</td>' in row
    assert amounts_not_right_aligned(html) == []


def test_prices_are_in_the_tenants_currency_with_its_grouping():
    t = make_e4_tenant(users=3)
    t.tenant.currency = "SEK"
    t.tenant.save(update_fields=["currency"])
    Price.objects.filter(product__code="O365_E5", currency="SEK").update(monthly="1399.00")
    html = tab_html(t)
    row = re.search(r'<tr data-target="O365_E5".*?</tr>', html, re.S).group(0)
    assert money_text("1399.00", "SEK") == "1,399.00\u00a0SEK"
    assert "1,399.00\u00a0SEK" in row and "USD" not in row


def test_the_prices_cost_the_same_queries_whatever_the_number_of_plans(settings):
    """E4 offers five plans, Microsoft 365 E3 two: the prices are read in one query."""
    counts = {}
    for source in ("O365_E4", "M365_E3"):
        t = make_e4_tenant(users=3, source=source)
        client = signed_in(t.admin)
        client.get(tab_url(t))  # the session's first request fills the cache
        with CaptureQueriesContext(connection) as queries:
            html = tab_html(t, client)
        counts[source] = len(queries)
        assert html.count('data-price="') == (5 if source == "O365_E4" else 2)
    assert counts["O365_E4"] == counts["M365_E3"], counts
    assert counts["O365_E4"] <= 20


# --- Roles that may only look ----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.GLOBAL_READER, Role.LICENSE_ADMIN, Role.USER_ADMIN])
def test_a_role_that_may_not_buy_sees_the_plans_and_prices_without_buttons(role):
    t = make_e4_tenant(users=3, role=role)
    html = tab_html(t)
    assert 'id="targets"' in html
    assert 'data-target="O365_E5"' in html and "38.00\u00a0USD" in html
    assert 'name="target"' not in html and "<button" not in text_of_main(html)
    assert "Upgrade to Office 365 E5" not in html
    sentence = text_of(html, "who-can-upgrade")
    assert "Global admin or Billing admin" in sentence
    assert 'data-reason="read_only_role"' in html
    assert "Why no plans are shown" not in html
    # Eligibility is still shown: a narrower plan warns, an available one says so.
    assert 'data-warning="loses_services"' in html
    assert 'data-eligible="O365_E5"' in html


def test_a_support_engineer_sees_the_plans_read_only():
    t = make_e4_tenant(users=2)
    html = tab_html(t, signed_in(UserFactory(is_staff=True)))
    assert 'data-target="O365_E5"' in html and 'name="target"' not in html
    assert 'data-reason="read_only_role"' in html


def test_a_reader_of_a_subscription_with_a_real_reason_sees_why_and_no_plans():
    t = make_e4_tenant(users=3, role=Role.GLOBAL_READER, is_trial=True)
    html = tab_html(t)
    assert 'data-reason="trial"' in html and 'data-reason="read_only_role"' in html
    assert 'id="targets"' not in html


def test_a_buyer_gets_the_buttons_and_no_look_only_sentence():
    t = make_e4_tenant(users=3)
    html = tab_html(t)
    assert "Upgrade to Office 365 E5" in html and 'name="target"' in html
    assert 'id="who-can-upgrade"' not in html


def test_rehearse_from_the_tab_opens_the_rehearsal_of_a_new_cart():
    t = make_e4_tenant(users=3)
    client = signed_in(t.admin)
    assert 'name="then" value="rehearse"' in tab_html(t, client)
    response = client.post(
        reverse("upgrade_cart_create", args=[t.tenant.slug, t.e4.pk]),
        {"target": "O365_E5", "then": "rehearse"},
    )
    cart = UpgradeCart.objects.get(tenant=t.tenant)
    assert response["Location"] == reverse("upgrade_rehearsal", args=[t.tenant.slug, cart.pk])


def test_the_tab_has_a_command_bar_with_contact_support():
    t = make_e4_tenant(users=3)
    html = tab_html(t)
    bar = re.search(r'<div class="commandbar" id="tab-commands">(.*?)</div>', html, re.S).group(1)
    assert 'id="contact-support"' in bar


# --- An upgraded subscription ----------------------------------------------------------------


def test_the_upgraded_source_says_where_it_went_instead_of_reactivate():
    t = make_e4_tenant(users=3)
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    html = tab_html(t)
    said = text_of(html, "upgraded")
    assert f"It was upgraded to Office 365 E5 on {day_text(run.finished_at)}." in said
    new_url = reverse("subscription_detail", args=[t.tenant.slug, run.new_subscription_id])
    assert f'href="{new_url}" id="new-subscription"' in html
    assert reverse("upgrade_report", args=[t.tenant.slug, run.pk]) in html
    assert "Reactivate" not in html
    assert 'data-reason="not_active"' not in html and "Why no plans are shown" not in html


def test_the_new_subscription_of_an_upgrade_is_not_called_upgraded():
    t = make_e4_tenant(users=2)
    run = place(t)
    engine.run_advance(run_id=run.pk)
    run.refresh_from_db()
    html = tab_html(t, subscription_id=run.new_subscription_id)
    assert 'id="upgraded"' not in html
    assert 'data-reason="no_upgrade_path"' in html


def test_a_failed_upgrade_does_not_call_its_source_upgraded():
    t = make_e4_tenant(users=2, card_token="tok_decline")  # noqa: S106
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    html = tab_html(t)
    assert 'id="upgraded"' not in html and 'id="targets"' in html


# --- Formats ---------------------------------------------------------------------------------


def test_the_tab_has_no_empty_header_and_no_raw_state_code():
    t = make_e4_tenant(users=3, role=Role.GLOBAL_READER)
    for client in (signed_in(t.admin), signed_in(make_e4_admin(t))):
        html = tab_html(t, client)
        assert empty_headers(html) == []
        h1 = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
        assert 'data-state="active"' in h1 and ">Active<" in h1


def make_e4_admin(t):
    user = UserFactory()
    user.memberships.create(tenant=t.tenant, role=Role.GLOBAL_ADMIN)
    return user


def text_of_main(html):
    return re.search(r'<main id="main"[^>]*>(.*)</main>', html, re.S).group(1)
