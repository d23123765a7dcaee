"""The upgrade pages after the Upgrade tab, as an admin reads them (issue 15): one date format,
amounts with the language's separators in right-aligned cells, counts in the singular when
there is one, a status page that does not say "0 of 0 users moved" before anyone is counted,
a payment method chosen in one click, and a command bar on cart and checkout."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from portal.formatting import moment_text, money_text
from upgrades import engine, services
from upgrades.help import SupportTopic, support_request_create
from upgrades.models import RunState, UpgradeRun

from .conftest import access_of, checkout, make_e4_tenant, place
from .test_look_html import amounts_not_right_aligned, empty_headers, text_of

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


def signed_in(t):
    client = Client()
    client.force_login(t.admin)
    return client


def page(client, name, t, pk, **headers):
    response = client.get(reverse(name, args=[t.tenant.slug, pk]), headers=headers)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def assert_tidy(html):
    """Every header cell says what its column is; every amount is in a right-aligned cell;
    no 12-hour clock whose stop doubles at the end of a sentence."""
    assert empty_headers(html) == []
    assert amounts_not_right_aligned(html) == []
    assert "p.m." not in html and "a.m." not in html


# --- Checkout --------------------------------------------------------------------------------


def test_checkout_says_when_prices_were_fixed_with_one_stop_and_groups_amounts(settings):
    settings.PORTAL_CREDIT_CHECK_THRESHOLD = "1000000000.00"
    t = make_e4_tenant(users=320)  # 320 x 38.00 USD: 12,160.00 USD a month
    cart = checkout(t)
    html = page(signed_in(t), "upgrade_checkout", t, cart.pk)
    fixed = text_of(html, "prices-fixed")
    assert fixed.startswith("Prices fixed on ") and not re.search(r"\.\s*\.", fixed)
    assert f'<td class="num">12,160.00{NBSP}USD</td>' in html
    assert "Office 365 E5, 320 licenses" in html
    assert_tidy(html)


def test_checkout_of_one_license_says_license():
    t = make_e4_tenant(users=1)
    cart = checkout(t)
    html = page(signed_in(t), "upgrade_checkout", t, cart.pk)
    assert "Office 365 E5, 1 license ·" in html and "1 licenses" not in html


def test_invoice_is_chosen_in_one_click(settings):
    settings.PORTAL_INVOICE_MINIMUM = "1.00"
    t = make_e4_tenant(users=5)
    cart = checkout(t)
    client = signed_in(t)
    html = page(client, "upgrade_checkout", t, cart.pk)
    payment = re.search(r'<section class="card" id="payment">(.*?)</section>', html, re.S)
    buttons = re.findall(r"<button [^>]*>", payment.group(1))
    assert any('name="payment_method" value="invoice"' in b for b in buttons)
    assert any('value="card" aria-pressed="true"' in b for b in buttons)
    assert ">Change</button>" not in payment.group(1)
    response = client.post(
        reverse("upgrade_checkout", args=[t.tenant.slug, cart.pk]),
        {"section": "payment", "payment_method": "invoice"},
    )
    assert response.status_code == 302
    cart.refresh_from_db()
    assert cart.payment_method == "invoice"
    after = page(client, "upgrade_checkout", t, cart.pk)
    assert 'value="invoice" aria-pressed="true"' in after
    assert "This order is paid by invoice." in after


def test_cart_and_checkout_have_a_command_bar_with_rehearse_and_support():
    t = make_e4_tenant(users=3)
    client = signed_in(t)
    cart = services.upgrade_cart_create(access=access_of(t), source=t.e4, target_code="O365_E5")
    rehearsal = reverse("upgrade_rehearsal", args=[t.tenant.slug, cart.pk])
    cart_html = page(client, "upgrade_cart", t, cart.pk)
    cart = services.upgrade_checkout_open(cart=cart, actor=t.admin)
    checkout_html = page(client, "upgrade_checkout", t, cart.pk)
    for html in (cart_html, checkout_html):
        bar = re.search(r'<div class="commandbar"[^>]*>(.*?)</div>', html, re.S).group(1)
        assert rehearsal in bar and 'id="contact-support"' in bar
        assert_tidy(html)


def test_the_cart_counts_add_on_licenses_in_the_singular_and_plural():
    t = make_e4_tenant(users=3, addons=[("PHONE_SYSTEM", 1, 1), ("ATP", 3, 2)])
    cart = services.upgrade_cart_create(access=access_of(t), source=t.e4, target_code="O365_E5")
    html = page(signed_in(t), "upgrade_cart", t, cart.pk)
    assert "1 of 1 license assigned" in html and "2 of 3 licenses assigned" in html
    assert "1 licenses" not in html


# --- Rehearsal -------------------------------------------------------------------------------


def test_the_rehearsal_of_one_user_says_user_and_license():
    t = make_e4_tenant(users=1)
    cart = checkout(t)
    html = page(signed_in(t), "upgrade_rehearsal", t, cart.pk)
    assert "1 user moves from Office 365 E4 to Office 365 E5." in html
    assert "1 license ·" in html and "1 licenses" not in html
    assert 'class="commandbar"' in html
    assert_tidy(html)


# --- Status ----------------------------------------------------------------------------------


def test_status_before_moving_says_when_moving_starts_not_zero_of_zero():
    t = make_e4_tenant(users=4)
    run = place(t)
    client = signed_in(t)
    for html in (
        page(client, "upgrade_status", t, run.pk),
        page(client, "upgrade_status", t, run.pk, HX_Request="true"),
    ):
        assert text_of(html, "run-progress") == "Moving starts after the new plan is bought."
        assert "0 of 0" not in html
        assert re.search(r'<progress [^>]*aria-label="Users moved"', html)


def test_status_while_counting_says_counting_users():
    t = make_e4_tenant(users=4)
    run = place(t)
    UpgradeRun.objects.filter(pk=run.pk).update(state=RunState.MOVING_LICENSES)
    html = page(signed_in(t), "upgrade_status", t, run.pk, HX_Request="true")
    assert text_of(html, "run-progress") == "Counting users…"


def test_status_counts_with_grouping_and_the_progress_bar_is_named():
    t = make_e4_tenant(users=4)
    run = place(t)
    UpgradeRun.objects.filter(pk=run.pk).update(
        state=RunState.MOVING_LICENSES, total=1200, moved=300, move_started_at=timezone.now()
    )
    html = page(signed_in(t), "upgrade_status", t, run.pk, HX_Request="true")
    assert text_of(html, "run-progress") == "300 of 1,200 users moved"
    bar = re.search(r"<progress [^>]*>", html).group(0)
    assert 'aria-label="Users moved"' in bar and 'aria-valuenow="300"' in bar
    assert 'max="1200"' in bar and 'value="300"' in bar


def test_status_of_one_user_moved_says_user():
    t = make_e4_tenant(users=1)
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    html = page(signed_in(t), "upgrade_status", t, run.pk)
    assert text_of(html, "run-progress") == "1 of 1 user moved"
    assert_tidy(html)
    invoices = re.search(r'<table class="invoices" id="order-invoices">.*?</table>', html, re.S)
    assert 'data-state="paid"' in invoices.group(0)


def test_a_declined_run_says_no_user_was_moved():
    t = make_e4_tenant(users=2)
    run = place(t)
    UpgradeRun.objects.filter(pk=run.pk).update(state=RunState.DECLINED)
    html = page(signed_in(t), "upgrade_status", t, run.pk)
    assert text_of(html, "run-progress") == "No user was moved."
    assert "<progress" not in html


# --- Report ----------------------------------------------------------------------------------


def test_the_report_groups_amounts_right_aligned_and_badges_its_state(settings):
    settings.PORTAL_CREDIT_CHECK_THRESHOLD = "1000000000.00"
    t = make_e4_tenant(users=320)
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    html = page(signed_in(t), "upgrade_report", t, run.pk)
    assert f"12,160.00{NBSP}USD" in html
    assert money_text(run.order.total, "USD") in html
    assert '<dd id="report-users-moved">320' in html
    state = re.search(r'<span id="report-state">(.*?)</span></dd>', html, re.S).group(1)
    assert 'data-state="completed"' in state and ">Completed<" in state
    assert 'class="commandbar"' in html
    assert_tidy(html)


# --- Contact support -------------------------------------------------------------------------


def test_support_requests_show_their_state_as_a_badge():
    t = make_e4_tenant(users=1)
    support_request_create(access=access_of(t), topic=SupportTopic.UPGRADE, message="Hello")
    html = signed_in(t).get(reverse("support_request_create", args=[t.tenant.slug])).content
    html = html.decode()
    assert re.search(r'<span class="badge tone-\w+ state-open" data-state="open">', html)
    assert_tidy(html)


# --- The templates themselves ----------------------------------------------------------------


def test_no_upgrade_template_formats_dates_or_amounts_its_own_way():
    root = Path(django_settings.BASE_DIR) / "templates" / "upgrades"
    offenders = []
    for path in sorted(root.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\|date:", r"\|time:", r"floatformat:2", r'class="badge \{\{'):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(root)}: {pattern}")
    assert offenders == []


@pytest.mark.parametrize(
    "language, shown",
    [
        ("en", "Dec 4, 2026, 14:38:09"),
        ("sv", "4 december 2026 14:38:09"),
        ("it", "4 dicembre 2026, 14:38:09"),
        ("nl", "4 december 2026 14:38:09"),
        ("zh-hans", "2026年12月4日 14:38:09"),
    ],
)
def test_timelines_show_the_second_in_the_languages_format(language, shown):
    """Steps are often seconds apart: |moment keeps the second, in the page's date format."""
    with translation.override(language):
        assert moment_text(dt.datetime(2026, 12, 4, 14, 38, 9)) == shown


def test_every_timeline_shows_the_second():
    base = Path(django_settings.BASE_DIR)
    timelines = {
        base / "templates/upgrades/status.html": "step.at|moment",
        base / "templates/upgrades/report.html": "step.at|moment",
        base / "support/templates/support/run.html": "e.at|moment",
    }
    for path, expected in timelines.items():
        assert expected in path.read_text(encoding="utf-8"), path
