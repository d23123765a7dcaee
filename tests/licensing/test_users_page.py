import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing.models import DirectoryUser, LicenseAssignment
from portal.models import Role

from ..factories import (
    DirectoryUserFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
    users_with_licenses,
)

pytestmark = pytest.mark.django_db


def _users_url(tenant):
    return reverse("users", args=[tenant.slug])


def _post_url(tenant):
    return reverse("users_licenses", args=[tenant.slug])


def _holding(subscription):
    return LicenseAssignment.objects.filter(subscription=subscription).count()


def test_first_page_search_and_next_page(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=200)
    users_with_licenses(e4, 120)
    DirectoryUserFactory(tenant=tenant, display_name="Zelda Quist", upn="zq@x.test")

    first = client.get(_users_url(tenant))
    names = [u.display_name for u in first.context["users"]]
    assert names == sorted(names) and len(names) == 50
    second = client.get(_users_url(tenant), {"after": first.context["page"].next_after})
    assert second.context["users"][0].display_name == "User 000050"
    back = client.get(_users_url(tenant), {"before": second.context["page"].prev_before})
    assert [u.pk for u in back.context["users"]] == [u.pk for u in first.context["users"]]

    found = client.get(_users_url(tenant), {"q": "zel"}).context["users"]
    assert [u.display_name for u in found] == ["Zelda Quist"]
    by_upn = client.get(_users_url(tenant), {"q": "ZQ@"}).context["users"]
    assert [u.display_name for u in by_upn] == ["Zelda Quist"]


def test_search_over_htmx_returns_only_the_panel(tenant, admin_for):
    client, _ = admin_for(tenant)
    DirectoryUserFactory(tenant=tenant, display_name="Ada Li")
    body = client.get(_users_url(tenant), {"q": "ada"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body and "Ada Li" in body and 'id="user-panel"' in body


def test_assign_through_the_page_redirects_back_to_the_same_search(tenant, admin_for):
    client, _ = admin_for(tenant, Role.LICENSE_ADMIN)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]
    response = client.post(
        _post_url(tenant),
        {"action": "assign", "assign_to": e5.pk, "users": [p.pk for p in people], "q": "Per"},
    )
    assert response.status_code == 302
    assert response["Location"] == _users_url(tenant) + "?q=Per"
    assert _holding(e5) == 3


def test_unassign_over_htmx_swaps_the_panel_with_the_result(tenant, admin_for):
    client, _ = admin_for(tenant, Role.USER_ADMIN)
    e4 = SubscriptionFactory(tenant=tenant, quantity=5)
    people = users_with_licenses(e4, 2)
    response = client.post(
        _post_url(tenant),
        {"action": "unassign", "unassign_from": e4.pk, "users": [people[0].pk]},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "1 license was unassigned" in body
    assert _holding(e4) == 1


def test_twenty_one_users_at_once_are_refused_and_nothing_changes(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=30)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=30)
    people = users_with_licenses(e4, 21)
    response = client.post(
        _post_url(tenant),
        {
            "action": "replace",
            "replace_from": e4.pk,
            "replace_to": e5.pk,
            "users": [p.pk for p in people],
        },
    )
    assert response.status_code == 400
    assert "Select at most 20 users at a time" in response.content.decode()
    assert (_holding(e4), _holding(e5)) == (21, 0)
    # The selection survives the error, so the admin can untick one and retry.
    assert response.content.decode().count("checked") == 21


def test_another_tenants_subscription_id_is_refused_and_nothing_changes(tenant, admin_for):
    client, _ = admin_for(tenant)
    foreign = SubscriptionFactory(tenant=TenantFactory(), product=product("M365_E5"), quantity=9)
    user = DirectoryUserFactory(tenant=tenant)
    response = client.post(
        _post_url(tenant), {"action": "assign", "assign_to": foreign.pk, "users": [user.pk]}
    )
    # As for an id that does not exist: another tenant's data is never acknowledged.
    assert response.status_code == 404
    assert _holding(foreign) == 0


def test_another_tenants_users_are_refused(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=9)
    stranger = DirectoryUserFactory(tenant=TenantFactory())
    response = client.post(
        _post_url(tenant), {"action": "assign", "assign_to": e5.pk, "users": [stranger.pk]}
    )
    assert response.status_code == 404
    assert _holding(e5) == 0


@pytest.mark.parametrize("role", [Role.BILLING_ADMIN, Role.GLOBAL_READER])
def test_roles_without_license_rights_see_no_selection_and_are_refused(tenant, admin_for, role):
    client, _ = admin_for(tenant, role)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=9)
    user = DirectoryUserFactory(tenant=tenant)
    page = client.get(_users_url(tenant)).content.decode()
    assert 'name="users"' not in page and "Assign licenses" not in page
    response = client.post(
        _post_url(tenant), {"action": "assign", "assign_to": e5.pk, "users": [user.pk]}
    )
    assert response.status_code == 403
    assert _holding(e5) == 0


def test_licensing_conflict_alert_says_how_to_fix_it(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=40)
    users_with_licenses(e4, 45)
    page = client.get(_users_url(tenant)).content.decode()
    assert "Licensing conflict: Office 365 E4 has 45 users assigned but only 40 licenses" in page
    assert "select 5 users and unassign their licenses, or buy 5 more licenses" in page
    licenses_tab = client.get(
        reverse("subscription_detail", args=[tenant.slug, e4.pk]), {"tab": "licenses"}
    ).content.decode()
    assert "Licensing conflict: 5 more users hold a license" in licenses_tab


def test_prefix_search_uses_an_index_on_postgresql(tenant):
    """The Users page search must not scan the tenant's whole directory."""
    from licensing.selectors import _matching

    DirectoryUser.objects.bulk_create(
        [
            DirectoryUser(tenant=tenant, display_name=f"Name {i:05d}", upn=f"n{i}@x.test")
            for i in range(3000)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE licensing_directoryuser")
    plan = _matching(tenant, "name 0012").explain()
    assert "diruser_tenant_upper_name_like" in plan, plan
    assert "diruser_tenant_upper_upn_like" in plan, plan


# --- Constant query counts for a tenant of 10,000 users ------------------------------------

USERS_PAGE_QUERIES = 9
PRODUCTS_PAGE_QUERIES = 10


@pytest.fixture
def big_tenant(db):
    tenant = TenantFactory()
    e4 = SubscriptionFactory(tenant=tenant, quantity=10_000)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10_000)
    SubscriptionFactory(tenant=tenant, product=product("PHONE_SYSTEM"), parent=e4, quantity=50)
    users = users_with_licenses(e4, 10_000)
    LicenseAssignment.objects.bulk_create(
        [
            LicenseAssignment(tenant=tenant, user=u, subscription=e5, assigned_at=e5.created_at)
            for u in users[:5000]
        ],
        batch_size=5000,
    )
    return tenant


def _count(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def test_users_page_queries_stay_constant_for_10000_users(
    big_tenant, admin_for, django_assert_max_num_queries
):
    client, _ = admin_for(big_tenant)
    small = TenantFactory()
    small_client, _ = admin_for(small)
    users_with_licenses(SubscriptionFactory(tenant=small, quantity=10), 3)
    url = _users_url(big_tenant)
    with django_assert_max_num_queries(USERS_PAGE_QUERIES):
        response = client.get(url)
    assert len(response.context["users"]) == 50
    with django_assert_max_num_queries(USERS_PAGE_QUERIES):
        client.get(url, {"q": "user 0099"})
    with django_assert_max_num_queries(USERS_PAGE_QUERIES):
        client.get(url, {"after": response.context["page"].next_after})
    assert _count(client, url) == _count(small_client, _users_url(small))


def test_your_products_queries_stay_constant_for_10000_users(
    big_tenant, admin_for, django_assert_max_num_queries
):
    client, _ = admin_for(big_tenant)
    small = TenantFactory()
    small_client, _ = admin_for(small)
    base = SubscriptionFactory(tenant=small, quantity=10)
    SubscriptionFactory(tenant=small, product=product("PHONE_SYSTEM"), parent=base, quantity=5)
    SubscriptionFactory(tenant=small, product=product("M365_E5"), quantity=10)
    url = reverse("products", args=[big_tenant.slug])
    with django_assert_max_num_queries(PRODUCTS_PAGE_QUERIES):
        body = client.get(url).content.decode()
    assert "10,000 / 10,000" in body and "5,000 / 10,000" in body
    assert _count(client, url) == _count(small_client, reverse("products", args=[small.slug]))


def test_htmx_history_restore_of_a_search_gets_the_whole_page(tenant, admin_for):
    client, _ = admin_for(tenant)
    DirectoryUserFactory(tenant=tenant, display_name="Ada Li")
    restored = client.get(
        _users_url(tenant),
        {"q": "ada"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    body = restored.content.decode()
    assert "<html" in body and "Ada Li" in body
    assert "HX-Request" in restored["Vary"]


# One of them is the upgrade-status link the upgrades app draws on every subscription page.
SUBSCRIPTION_PAGE_QUERIES = 13


@pytest.mark.parametrize("tab", ["overview", "licenses", "addons"])
def test_subscription_page_queries_stay_constant_for_10000_users(
    big_tenant, admin_for, django_assert_max_num_queries, tab
):
    client, _ = admin_for(big_tenant)
    small = TenantFactory()
    small_client, _ = admin_for(small)
    small_e4 = SubscriptionFactory(tenant=small, quantity=10)
    users_with_licenses(small_e4, 3)
    SubscriptionFactory(tenant=small, product=product("PHONE_SYSTEM"), parent=small_e4, quantity=5)
    e4 = big_tenant.subscriptions.get(product__code="O365_E4")
    url = reverse("subscription_detail", args=[big_tenant.slug, e4.pk])
    with django_assert_max_num_queries(SUBSCRIPTION_PAGE_QUERIES):
        body = client.get(url, {"tab": tab}).content.decode()
    assert ("0 / 50" if tab == "addons" else "10,000 / 10,000") in body
    small_url = reverse("subscription_detail", args=[small.slug, small_e4.pk])
    assert _count(client, url, {"tab": tab}) == _count(small_client, small_url, {"tab": tab})
