"""Bulk license work through the API: thousands of users in one request, all or nothing."""

import pytest

from licensing.models import LicenseAssignment
from portal.models import AuditEvent, Role

from ..factories import (
    DirectoryUserFactory,
    LicenseFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
    users_with_licenses,
)

pytestmark = pytest.mark.django_db


def _holders(subscription) -> set[int]:
    return set(
        LicenseAssignment.objects.filter(subscription=subscription).values_list(
            "user_id", flat=True
        )
    )


@pytest.fixture
def e4(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=6000)


@pytest.fixture
def e5(tenant):
    return SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=6000)


def test_bulk_replace_of_5000_users_moves_exactly_those_users_in_one_request(api, e4, e5):
    users = users_with_licenses(e4, 5200)
    moving, staying = users[:5000], users[5000:]

    response = api.post(
        "licenses/replace",
        {"source_id": e4.pk, "target_id": e5.pk, "users": [u.upn for u in moving]},
    )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "operation": "replace",
        "source_id": e4.pk,
        "target_id": e5.pk,
        "changed": 5000,
    }
    assert _holders(e5) == {u.pk for u in moving}
    assert _holders(e4) == {u.pk for u in staying}
    assert AuditEvent.objects.filter(action="license.replace", tenant=api.tenant).count() == 1


def test_a_user_of_another_tenant_refuses_the_whole_request(api, e4, e5):
    users = users_with_licenses(e4, 30)
    stranger = LicenseFactory(subscription=SubscriptionFactory(tenant=TenantFactory())).user

    response = api.post(
        "licenses/replace",
        {"source_id": e4.pk, "target_id": e5.pk, "users": [u.upn for u in users] + [stranger.upn]},
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "unknown_users"
    assert body["details"] == {"count": 1, "users": [stranger.upn]}
    assert stranger.upn in body["message"]
    assert _holders(e4) == {u.pk for u in users}
    assert _holders(e5) == set()


def test_a_user_named_twice_refuses_the_whole_request(api, e4, e5):
    users = users_with_licenses(e4, 30)
    upns = [u.upn for u in users] + [users[3].upn.upper()]

    response = api.post("licenses/replace", {"source_id": e4.pk, "target_id": e5.pk, "users": upns})

    assert response.status_code == 422
    assert response.json()["code"] == "duplicate_users"
    assert response.json()["details"]["users"] == [users[3].upn.upper()]
    assert _holders(e5) == set()
    assert len(_holders(e4)) == 30


@pytest.mark.parametrize("which", ["source_id", "target_id"])
def test_an_unknown_subscription_refuses_the_whole_request(api, e4, e5, which):
    users = users_with_licenses(e4, 30)
    theirs = SubscriptionFactory(tenant=TenantFactory(), product=product("M365_E5"))
    body = {"source_id": e4.pk, "target_id": e5.pk, "users": [u.upn for u in users]}
    body[which] = theirs.pk

    response = api.post("licenses/replace", body)

    # 404, as the same id gets in a path (it was 422 `not_found`): another tenant's subscription
    # answers exactly as one that does not exist, wherever the request names it (issue 12).
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert len(_holders(e4)) == 30
    assert _holders(e5) == set()
    assert _holders(theirs) == set()


def test_assign_has_no_20_user_limit_and_matches_upns_ignoring_case(api, e5):
    people = [DirectoryUserFactory(tenant=api.tenant) for _ in range(25)]

    response = api.post(
        "licenses/assign", {"subscription_id": e5.pk, "users": [p.upn.upper() for p in people]}
    )

    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 25
    assert _holders(e5) == {p.pk for p in people}


def test_assign_beyond_free_licenses_changes_nothing(api, tenant):
    small = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=2)
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]

    response = api.post(
        "licenses/assign", {"subscription_id": small.pk, "users": [p.upn for p in people]}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "not_enough_licenses"
    assert _holders(small) == set()


def test_unassign_takes_licenses_away(api, e4):
    users = users_with_licenses(e4, 40)

    response = api.post(
        "licenses/unassign", {"subscription_id": e4.pk, "users": [u.upn for u in users[:30]]}
    )

    assert response.status_code == 200, response.content
    assert _holders(e4) == {u.pk for u in users[30:]}


def test_a_license_admin_may_assign(tenant, api_for, e5):
    person = DirectoryUserFactory(tenant=tenant)

    response = api_for(tenant, Role.LICENSE_ADMIN).post(
        "licenses/assign", {"subscription_id": e5.pk, "users": [person.upn]}
    )

    assert response.status_code == 200


def test_license_list_pages_through_the_holders(api, e4):
    users = users_with_licenses(e4, 5)

    first = api.get("licenses", subscription_id=e4.pk, limit=3).json()
    second = api.get("licenses", subscription_id=e4.pk, limit=3, after=first["next_after"]).json()

    assert [i["upn"] for i in first["items"] + second["items"]] == [u.upn for u in users]
    assert second["next_after"] is None


@pytest.mark.parametrize("operation", ["assign", "unassign"])
def test_another_tenants_subscription_answers_like_one_that_does_not_exist(api, e5, operation):
    theirs = SubscriptionFactory(tenant=TenantFactory(), product=product("M365_E5"))
    LicenseFactory(subscription=theirs)
    person = DirectoryUserFactory(tenant=api.tenant)

    path = f"licenses/{operation}"

    foreign = api.post(path, {"subscription_id": theirs.pk, "users": [person.upn]})
    missing = api.post(path, {"subscription_id": 2**40, "users": [person.upn]})

    assert foreign.status_code == 404
    assert foreign.json() == missing.json() == {"code": "not_found", "message": "Not found."}
    assert len(_holders(theirs)) == 1
    assert _holders(e5) == set()


def test_another_tenants_subscription_is_404_even_when_the_users_are_unknown_too(api):
    """The subscription is checked first: a request naming another tenant's subscription never
    learns anything else about it."""
    theirs = SubscriptionFactory(tenant=TenantFactory(), product=product("M365_E5"))

    response = api.post("licenses/assign", {"subscription_id": theirs.pk, "users": ["x@y.test"]})

    assert response.status_code == 404


def test_license_list_of_another_tenants_subscription_is_404(api):
    theirs = SubscriptionFactory(tenant=TenantFactory())
    LicenseFactory(subscription=theirs)

    assert api.get("licenses", subscription_id=theirs.pk).status_code == 404
