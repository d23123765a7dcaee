"""A token's scopes narrow its admin's role and never widen it; a token past its expiry is
refused with its own code; the service refuses scopes beyond the role and lifetimes beyond the
maximum."""

import datetime as dt

import pytest

from licensing.models import LicenseAssignment
from portal import clock
from portal.api.services import api_token_create
from portal.errors import DomainError
from portal.models import ApiToken, ApiTokenFailure, Role
from upgrades.models import UpgradeRun

from ..factories import (
    DirectoryUserFactory,
    MembershipFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)

pytestmark = pytest.mark.django_db


def _assign(client, subscription, user):
    return client.post("licenses/assign", {"subscription_id": subscription.pk, "users": [user.upn]})


def _upgrade(client, e4):
    return client.post(
        "upgrades", {"subscription_id": e4.pk, "target": "O365_E5"}, **{"Idempotency-Key": "k-1"}
    )


def _assert_insufficient_scope(response, scope):
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["details"]["required_scope"] == scope
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="insufficient_scope", scope="{scope}"'
    )


# --- Each scope ----------------------------------------------------------------------------------


def test_a_read_token_reads(tenant, api_for, e4):
    client = api_for(tenant, Role.GLOBAL_ADMIN, scopes=["read"])

    assert client.get("subscriptions").status_code == 200
    assert client.get(f"subscriptions/{e4.pk}/eligibility").status_code == 200
    assert client.get("upgrades").status_code == 200


def test_a_read_token_is_refused_a_licenses_write_with_insufficient_scope(tenant, api_for, e4):
    client = api_for(tenant, Role.GLOBAL_ADMIN, scopes=["read"])
    newcomer = DirectoryUserFactory(tenant=tenant)

    response = _assign(client, e4, newcomer)

    _assert_insufficient_scope(response, "licenses")
    assert response.json()["details"]["token_scopes"] == ["read"]
    assert not LicenseAssignment.objects.filter(user=newcomer).exists()


def test_a_licenses_token_assigns_licenses(tenant, api_for, e4):
    client = api_for(tenant, Role.LICENSE_ADMIN, scopes=["licenses"])
    newcomer = DirectoryUserFactory(tenant=tenant)

    response = _assign(client, e4, newcomer)

    assert response.status_code == 200, response.content
    assert LicenseAssignment.objects.filter(user=newcomer, subscription=e4).exists()


def test_a_licenses_token_is_refused_an_upgrade_with_insufficient_scope(tenant, api_for, e4):
    client = api_for(tenant, Role.GLOBAL_ADMIN, scopes=["licenses"])

    _assert_insufficient_scope(_upgrade(client, e4), "billing")
    assert not UpgradeRun.objects.filter(tenant=tenant).exists()


def test_a_billing_token_places_an_upgrade(tenant, api_for, e4):
    client = api_for(tenant, Role.BILLING_ADMIN, scopes=["billing"])

    response = _upgrade(client, e4)

    assert response.status_code == 201, response.content
    assert UpgradeRun.objects.filter(tenant=tenant).exists()


def test_a_billing_token_is_refused_licenses_writes_with_insufficient_scope(tenant, api_for, e4):
    client = api_for(tenant, Role.GLOBAL_ADMIN, scopes=["billing"])
    holder = e4.assignments.first().user
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=12)
    bodies = {
        "licenses/assign": {"subscription_id": e4.pk, "users": ["someone@x.test"]},
        "licenses/unassign": {"subscription_id": e4.pk, "users": [holder.upn]},
        "licenses/replace": {"source_id": e4.pk, "target_id": e5.pk, "users": [holder.upn]},
    }

    for path, body in bodies.items():
        _assert_insufficient_scope(client.post(path, body), "licenses")
    assert e4.assignments.filter(user=holder).exists()


def test_a_token_read_scope_is_kept_whatever_was_asked(tenant):
    membership = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)

    token, _raw = api_token_create(membership=membership, name="x", scopes=[])

    assert token.scopes == ["read"]


def test_a_read_token_sees_that_it_cannot_buy(tenant, api_for, e4):
    """Handlers asking request.access what the caller may do get the scopes' answer too."""
    full = api_for(tenant, Role.GLOBAL_ADMIN).get(f"subscriptions/{e4.pk}/eligibility").json()
    read = api_for(tenant, Role.GLOBAL_ADMIN, scopes=["read"])

    body = read.get(f"subscriptions/{e4.pk}/eligibility").json()

    codes = {r["code"] for r in body["reasons"]}
    assert not {"read_only_role", "read_only_token"} & {r["code"] for r in full["reasons"]}
    # Told that the token, not the admin's role, is what cannot buy.
    assert "read_only_token" in codes and "read_only_role" not in codes


# --- Scopes never widen the role --------------------------------------------------------------


def test_a_role_without_the_capability_is_forbidden_even_with_every_scope(tenant, api_for, e4):
    client = api_for(tenant, Role.LICENSE_ADMIN, scopes=["licenses"])
    # Every scope stored, as a Global admin's token keeps them after a demotion.
    token = ApiToken.objects.get(membership__user=client.user)
    ApiToken.objects.filter(pk=token.pk).update(scopes=["read", "licenses", "billing"])

    response = _upgrade(client, e4)

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    assert "WWW-Authenticate" not in response


def test_a_demoted_admins_full_scope_token_loses_what_the_new_role_lacks(tenant, api_for, e4):
    client = api_for(tenant, Role.GLOBAL_ADMIN)
    newcomer = DirectoryUserFactory(tenant=tenant)
    client.user.memberships.filter(tenant=tenant).update(role=Role.GLOBAL_READER)

    response = _assign(client, e4, newcomer)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert client.get("subscriptions").status_code == 200


def test_a_reader_cannot_be_given_a_wider_scope_by_the_service(tenant):
    reader = MembershipFactory(tenant=tenant, role=Role.GLOBAL_READER)

    for scope in ("licenses", "billing"):
        with pytest.raises(DomainError) as refused:
            api_token_create(membership=reader, name="x", scopes=["read", scope])
        assert refused.value.code == "scope_not_allowed"
    assert not ApiToken.objects.exists()


def test_a_billing_admin_cannot_get_a_licenses_token(tenant):
    billing = MembershipFactory(tenant=tenant, role=Role.BILLING_ADMIN)

    with pytest.raises(DomainError) as refused:
        api_token_create(membership=billing, name="x", scopes=["licenses"])

    assert refused.value.code == "scope_not_allowed"
    assert "Licenses" in refused.value.message


def test_an_unknown_scope_is_refused(tenant):
    admin = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)

    with pytest.raises(DomainError) as refused:
        api_token_create(membership=admin, name="x", scopes=["users"])

    assert refused.value.code == "unknown_scope"


def test_without_scopes_named_a_token_gets_what_the_role_allows(tenant):
    billing = MembershipFactory(tenant=tenant, role=Role.BILLING_ADMIN)

    token, _raw = api_token_create(membership=billing, name="x")

    assert token.scopes == ["read", "billing"]


# --- Expiry --------------------------------------------------------------------------------------


def test_a_token_works_until_it_expires_then_is_refused_as_expired(tenant, api_for):
    client = api_for(tenant)
    token = ApiToken.objects.get(membership__user=client.user)
    clock.clock_advance(delta=token.expires_at - clock.now() - dt.timedelta(minutes=1))
    assert client.get("subscriptions").status_code == 200

    clock.clock_advance(delta=dt.timedelta(minutes=2))
    response = client.get("subscriptions")

    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"
    assert response.json()["message"]
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The token has expired"'
    )


def test_an_expired_token_is_refused_alike_on_another_tenants_path(tenant, api_for):
    client = api_for(tenant)
    other = TenantFactory()
    clock.clock_advance(delta=dt.timedelta(days=400))

    own = client.get("subscriptions")
    theirs = client.client.get(f"/api/v1/tenants/{other.slug}/subscriptions")

    assert own.status_code == theirs.status_code == 401
    assert own.json() == theirs.json()


def test_an_expired_token_is_not_counted_as_a_guess(tenant, api_for):
    client = api_for(tenant)
    clock.clock_advance(delta=dt.timedelta(days=400))

    client.get("subscriptions")

    assert not ApiTokenFailure.objects.exists()


def test_an_expired_token_records_no_use(tenant, api_for):
    client = api_for(tenant)
    clock.clock_advance(delta=dt.timedelta(days=400))

    client.get("subscriptions")

    assert ApiToken.objects.get(membership__user=client.user).last_used_at is None


def test_the_expiry_is_chosen_at_creation_on_the_products_clock(tenant):
    admin = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)
    clock.clock_advance(delta=dt.timedelta(days=10))

    token, _raw = api_token_create(membership=admin, name="x", expires_in_days=7)

    assert token.expires_at - token.created_at == dt.timedelta(days=7)
    assert abs(token.created_at - clock.now()) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(("days", "code"), [(366, "expiry_too_long"), (0, "expiry_invalid")])
def test_a_lifetime_outside_one_day_to_the_maximum_is_refused(tenant, days, code):
    admin = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)

    with pytest.raises(DomainError) as refused:
        api_token_create(membership=admin, name="x", expires_in_days=days)

    assert refused.value.code == code
    assert not ApiToken.objects.exists()


def test_the_maximum_lifetime_follows_the_setting(tenant, settings):
    settings.PORTAL_API_TOKEN_MAX_DAYS = 30
    admin = MembershipFactory(tenant=tenant, role=Role.GLOBAL_ADMIN)

    token, _raw = api_token_create(membership=admin, name="x")  # default 90, capped at 30
    with pytest.raises(DomainError) as refused:
        api_token_create(membership=admin, name="y", expires_in_days=31)

    assert token.expires_at - token.created_at == dt.timedelta(days=30)
    assert "30" in refused.value.message
