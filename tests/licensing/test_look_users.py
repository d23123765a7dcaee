"""How the Users page reads (issue 15): one command bar above the table, a select-all
checkbox (wired by portal.js) with a no-JavaScript fallback that selects as many users as one
action takes, and counts in sentences through plurals."""

import re

import pytest
from django.urls import reverse

from licensing.models import LicenseAssignment
from licensing.services import BROWSER_MAX_USERS
from portal.models import Role

from ..factories import DirectoryUserFactory, SubscriptionFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


def _users_url(tenant):
    return reverse("users", args=[tenant.slug])


def test_actions_sit_in_one_command_bar_above_the_table(tenant, admin_for):
    client, _ = admin_for(tenant, Role.LICENSE_ADMIN)
    users_with_licenses(SubscriptionFactory(tenant=tenant, quantity=5), 2)

    page = client.get(_users_url(tenant)).content.decode()

    bar = page[page.index('<div class="commandbar" id="user-commands">') :]
    bar = bar[: bar.index('<table id="user-table">')]
    summaries = re.findall(r"<summary[^>]*>(.*?)</summary>", bar)
    assert summaries == ["Assign licenses", "Unassign licenses", "Replace licenses"]
    assert 'class="license-dialogs"' not in page  # no longer stacked above one another


def test_the_table_has_a_select_all_checkbox_for_who_may_assign(tenant, admin_for):
    client, _ = admin_for(tenant, Role.USER_ADMIN)
    users_with_licenses(SubscriptionFactory(tenant=tenant, quantity=5), 2)

    page = client.get(_users_url(tenant)).content.decode()

    header = page[page.index('<table id="user-table">') : page.index("</thead>")]
    assert re.search(r'<input type="checkbox" id="select-all" data-select-all="users"', header)
    assert f'data-select-max="{BROWSER_MAX_USERS}"' in header
    assert f'aria-label="Select up to {BROWSER_MAX_USERS} users on this page"' in header


def test_readers_get_no_select_all_and_no_command_bar(tenant, admin_for):
    client, _ = admin_for(tenant, Role.GLOBAL_READER)
    users_with_licenses(SubscriptionFactory(tenant=tenant, quantity=5), 2)

    page = client.get(_users_url(tenant)).content.decode()

    assert "data-select-all" not in page and 'id="user-commands"' not in page


def test_without_javascript_select_page_checks_as_many_users_as_one_action_takes(tenant, admin_for):
    client, _ = admin_for(tenant)
    users_with_licenses(SubscriptionFactory(tenant=tenant, quantity=40), 30)

    page = client.get(_users_url(tenant)).content.decode()
    assert "select=page" in page  # the fallback link, in <noscript>
    selected = client.get(_users_url(tenant), {"select": "page"}).content.decode()

    checked = re.findall(r'name="users" value="(\d+)"[^>]*checked', selected)
    assert len(checked) == BROWSER_MAX_USERS
    assert 'id="select-all"' in selected and re.search(r'id="select-all"[^>]*checked', selected)


def test_selecting_the_page_then_unassigning_frees_exactly_those_licenses(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=40)
    users_with_licenses(e4, 30)
    selected = client.get(_users_url(tenant), {"select": "page"}).content.decode()
    ids = re.findall(r'name="users" value="(\d+)"[^>]*checked', selected)

    response = client.post(
        reverse("users_licenses", args=[tenant.slug]),
        {"action": "unassign", "unassign_from": e4.pk, "users": ids},
    )

    assert response.status_code == 302
    assert LicenseAssignment.objects.filter(subscription=e4).count() == 30 - BROWSER_MAX_USERS


def test_a_conflict_of_one_license_is_said_in_the_singular(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=1)
    users_with_licenses(e5, 2)

    page = client.get(_users_url(tenant)).content.decode()

    assert "has 2 users assigned but only 1 license." in page
    assert "select 1 user and unassign their license, or buy 1 more license." in page
    assert "1 licenses" not in page and "1 users" not in page


def test_free_licenses_in_the_assign_choice_are_counted_with_plurals(tenant, admin_for):
    client, _ = admin_for(tenant)
    users_with_licenses(SubscriptionFactory(tenant=tenant, quantity=3), 2)
    SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=2_000)

    page = client.get(_users_url(tenant)).content.decode()

    assert "Office 365 E4 (1 license available)" in page
    assert "Microsoft 365 E5 (2,000 licenses available)" in page
    assert "Select up to 20 users at a time." in page


def test_license_holders_list_says_how_many_it_shows(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=60)
    users_with_licenses(e5, 55)
    DirectoryUserFactory(tenant=tenant)

    page = client.get(
        reverse("subscription_detail", args=[tenant.slug, e5.pk]), {"tab": "licenses"}
    ).content.decode()

    assert "Showing the first 50 users by name." in page
