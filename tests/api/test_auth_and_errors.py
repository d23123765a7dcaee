"""The API's gate: token, tenant scoping, capability, admin lock, and JSON errors everywhere. (Token
scopes and expiry: test_token_scopes.py; token guessing: test_token_throttling.py.)"""

import pytest
from django.test import Client

from portal.api.services import api_token_revoke
from portal.models import AdminLock, ApiToken, Role
from portal.services import admin_lock_acquire

from ..factories import SubscriptionFactory, TenantFactory

pytestmark = pytest.mark.django_db


def _assert_json_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert body["message"]


def test_a_request_without_a_token_is_401_json(tenant):
    response = Client().get(f"/api/v1/tenants/{tenant.slug}/subscriptions")

    _assert_json_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401_json(tenant):
    client = Client(headers={"Authorization": "Bearer pt_not-a-real-token"})

    _assert_json_error(
        client.get(f"/api/v1/tenants/{tenant.slug}/subscriptions"), 401, "invalid_token"
    )


def test_a_revoked_token_stops_working(api):
    token = ApiToken.objects.get(membership__user=api.user)
    assert api.get("subscriptions").status_code == 200

    api_token_revoke(token=token, actor=api.user, actor_membership=token.membership)

    _assert_json_error(api.get("subscriptions"), 401, "invalid_token")


def test_only_a_hash_of_the_token_is_stored(api):
    token = ApiToken.objects.get(membership__user=api.user)

    assert api.token not in (token.key_hash, token.prefix)
    assert api.token.startswith(token.prefix)


def test_using_a_token_records_when_it_was_last_used(api):
    api.get("subscriptions")

    assert ApiToken.objects.get(membership__user=api.user).last_used_at is not None


def test_a_token_gets_404_in_another_tenant(api):
    other = TenantFactory()
    SubscriptionFactory(tenant=other)

    response = api.client.get(f"/api/v1/tenants/{other.slug}/subscriptions")

    _assert_json_error(response, 404, "not_found")


def test_another_tenants_subscription_is_404(api):
    theirs = SubscriptionFactory(tenant=TenantFactory())

    _assert_json_error(api.get(f"subscriptions/{theirs.pk}"), 404, "not_found")


def test_a_role_without_the_capability_gets_403(tenant, api_for):
    reader = api_for(tenant, Role.GLOBAL_READER)
    e4 = SubscriptionFactory(tenant=tenant)

    assert reader.get("subscriptions").status_code == 200
    response = reader.post("licenses/assign", {"subscription_id": e4.pk, "users": ["a@b.test"]})

    _assert_json_error(response, 403, "forbidden")


def test_a_wrong_method_is_405_json_with_allow(api):
    response = api.client.delete(api.url("subscriptions"))

    _assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/",
        "/api/v2/tenants/x/subscriptions",
        "/api/v1/tenants/x/nothing-here",
        "/api/v1/tenants/x/subscriptions/99999999999999999999999",
        "/api/v1/tenants/x/subscriptions/",
    ],
)
def test_an_unknown_api_path_is_404_json(api, path):
    _assert_json_error(api.client.get(path), 404, "not_found")


def test_bad_json_is_400(api):
    response = api.client.post(
        api.url("licenses/assign"), b"{not json", content_type="application/json"
    )

    _assert_json_error(response, 400, "invalid_json")


def test_a_json_body_that_is_not_an_object_is_400(api):
    _assert_json_error(api.post("licenses/assign", [1, 2]), 400, "invalid_json")


@pytest.mark.parametrize(
    "body",
    [
        {"users": ["a@b.test"]},
        {"subscription_id": True, "users": ["a@b.test"]},
        {"subscription_id": "1", "users": ["a@b.test"]},
        {"subscription_id": 2**63, "users": ["a@b.test"]},
        {"subscription_id": 1, "users": []},
        {"subscription_id": 1, "users": "a@b.test"},
        {"subscription_id": 1, "users": [7]},
        {"subscription_id": 1, "users": ["nul\x00byte@b.test"]},
        {"subscription_id": 1, "users": ["   "]},
        {"subscription_id": 1, "users": ["a@b.test"], "extra": 1},
    ],
)
def test_malformed_bodies_are_400_with_a_code(api, body):
    _assert_json_error(api.post("licenses/assign", body), 400, "invalid_request")


def test_bad_query_parameters_are_400(api):
    _assert_json_error(api.get("subscriptions", status="nope"), 400, "invalid_request")
    _assert_json_error(api.get("licenses", subscription_id="x"), 400, "invalid_request")
    _assert_json_error(api.get("licenses"), 400, "invalid_request")


def test_a_locked_tenant_answers_423_with_the_status_url(tenant, api):
    # Any saved row may hold the lock (an upgrade run, in the product); the API does not care.
    admin_lock_acquire(tenant=tenant, holder=tenant, reason="Upgrade", status_url="/t/x/upgrade/1/")

    response = api.get("subscriptions")

    _assert_json_error(response, 423, "admin_locked")
    assert response.json()["details"]["status_url"] == "/t/x/upgrade/1/"
    assert AdminLock.objects.filter(tenant=tenant).exists()


def test_the_openapi_document_is_served_without_a_token():
    response = Client().get("/api/v1/openapi.json")

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_a_body_over_the_size_limit_is_413_json(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    users = [f"user{i}@example.test" for i in range(100)]

    response = api.post("licenses/assign", {"subscription_id": 1, "users": users})

    _assert_json_error(response, 413, "request_too_large")


def test_a_bug_is_answered_as_json_not_an_html_page(api, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("billing.selectors.subscription_list", broken)

    _assert_json_error(api.get("subscriptions"), 500, "server_error")


# --- Methods ---------------------------------------------------------------------------------


def test_a_wrong_method_is_405_json_listing_every_method_the_path_accepts(api):
    response = api.client.put(api.url("upgrades"))

    _assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST"


def test_a_wrong_method_is_405_even_without_a_token(tenant):
    response = Client().patch(f"/api/v1/tenants/{tenant.slug}/licenses/assign")

    _assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"


def test_the_openapi_document_accepts_only_get():
    response = Client().post("/api/v1/openapi.json")

    _assert_json_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET"


def test_a_post_to_an_unknown_api_path_is_404_json_not_a_csrf_page(api):
    _assert_json_error(Client(enforce_csrf_checks=True).post("/api/v1/nothing"), 404, "not_found")


# --- Authentication --------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "pt_token"])
def test_anything_but_a_bearer_token_is_401_unauthenticated(tenant, header):
    response = Client(headers={"Authorization": header}).get(
        f"/api/v1/tenants/{tenant.slug}/subscriptions"
    )

    _assert_json_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_an_invalid_token_says_so_in_www_authenticate(tenant):
    client = Client(headers={"Authorization": "Bearer pt_not-a-real-token"})

    response = client.get(f"/api/v1/tenants/{tenant.slug}/subscriptions")

    assert response["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_token"'


def test_the_token_of_a_deactivated_admin_stops_working(api):
    api.user.is_active = False
    api.user.save(update_fields=["is_active"])

    _assert_json_error(api.get("subscriptions"), 401, "invalid_token")


def test_the_bearer_scheme_is_case_insensitive(api):
    client = Client(headers={"Authorization": f"bearer {api.token}"})

    assert client.get(api.url("subscriptions")).status_code == 200


# --- The admin lock and the roles ------------------------------------------------------------


def _lock(tenant):
    admin_lock_acquire(tenant=tenant, holder=tenant, reason="Upgrade", status_url="/t/x/up/1/")


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "subscriptions"), ("post", "licenses/assign"), ("get", "licenses")],
)
def test_the_lock_is_answered_423_alike_to_every_role(tenant, api_for, method, path):
    """A Global reader asking to assign licenses (which their role does not allow) gets the same
    423 as a License admin: while locked nobody learns more than that."""
    e5 = SubscriptionFactory(tenant=tenant)
    # Tokens are made before the lock: a locked tenant's admins cannot create any.
    clients = {role: api_for(tenant, role) for role in Role.values}
    _lock(tenant)
    answers = {}
    for role in [Role.GLOBAL_READER, Role.LICENSE_ADMIN, *Role.values]:
        client = clients[role]
        if method == "post":
            response = client.post(path, {"subscription_id": e5.pk, "users": ["a@b.test"]})
        else:
            response = client.get(path, subscription_id=e5.pk)
        _assert_json_error(response, 423, "admin_locked")
        answers[role] = response.json()

    assert answers[Role.GLOBAL_READER] == answers[Role.LICENSE_ADMIN]
    assert len({str(body) for body in answers.values()}) == 1
    assert answers[Role.GLOBAL_READER]["details"] == {"status_url": "/t/x/up/1/"}


def test_without_a_lock_the_role_is_checked_and_the_reader_gets_403(tenant, api_for):
    e5 = SubscriptionFactory(tenant=tenant)

    response = api_for(tenant, Role.GLOBAL_READER).post(
        "licenses/assign", {"subscription_id": e5.pk, "users": ["a@b.test"]}
    )

    _assert_json_error(response, 403, "forbidden")


def test_a_locked_tenant_still_answers_404_for_another_tenant(tenant, api):
    other = TenantFactory()
    _lock(other)
    _lock(tenant)

    _assert_json_error(
        api.client.get(f"/api/v1/tenants/{other.slug}/subscriptions"), 404, "not_found"
    )


def test_the_lock_is_answered_before_the_tokens_scope(tenant, api_for):
    """A read token asking to assign licenses gets the same 423 as any token while locked."""
    e5 = SubscriptionFactory(tenant=tenant)
    read = api_for(tenant, Role.GLOBAL_ADMIN, scopes=["read"])
    full = api_for(tenant, Role.GLOBAL_ADMIN)
    _lock(tenant)
    body = {"subscription_id": e5.pk, "users": ["a@b.test"]}

    by_read = read.post("licenses/assign", body)
    by_full = full.post("licenses/assign", body)

    _assert_json_error(by_read, 423, "admin_locked")
    assert by_read.json() == by_full.json()


def test_a_role_without_the_capability_is_forbidden_before_the_scope_is_looked_at(tenant, api_for):
    """Neither the role nor the scopes allow it: `forbidden`, since no token of this admin
    could do it (insufficient_scope would suggest creating one)."""
    e5 = SubscriptionFactory(tenant=tenant)
    reader = api_for(tenant, Role.GLOBAL_READER, scopes=["read"])

    response = reader.post("licenses/assign", {"subscription_id": e5.pk, "users": ["a@b.test"]})

    _assert_json_error(response, 403, "forbidden")


def test_a_revoked_token_is_refused_on_the_very_next_request(api):
    """Nothing about a token is cached between requests."""
    token = ApiToken.objects.get(membership__user=api.user)
    for _ in range(3):
        assert api.get("subscriptions").status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)

    _assert_json_error(api.get("subscriptions"), 401, "invalid_token")


def test_a_locked_request_still_records_the_tokens_use(tenant, api):
    _lock(tenant)

    api.get("subscriptions")

    assert ApiToken.objects.get(membership__user=api.user).last_used_at is not None


@pytest.mark.parametrize("role", Role.values)
def test_upgrade_status_and_list_stay_readable_while_locked(tenant, api_for, role):
    client = api_for(tenant, role)
    _lock(tenant)

    assert client.get("upgrades").status_code == 200
    _assert_json_error(client.get("upgrades/1"), 404, "not_found")  # not 423


def test_token_requests_need_no_csrf_token(api, tenant):
    e5 = SubscriptionFactory(tenant=tenant)
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {api.token}"})

    response = client.post(
        api.url("licenses/assign"),
        {"subscription_id": e5.pk, "users": ["nobody@b.test"]},
        content_type="application/json",
    )

    assert response.status_code == 422, response.content  # reached the endpoint
    assert response.json()["code"] == "unknown_users"


def test_a_bug_is_logged_with_its_traceback(api, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("billing.selectors.subscription_list", broken)

    with caplog.at_level("ERROR", logger="portal.api.errors"):
        api.get("subscriptions")

    record = next(r for r in caplog.records if "API request failed" in r.getMessage())
    assert record.exc_info and "boom" in str(record.exc_info[1])
