"""The API's gate: token, tenant scoping, capability, admin lock, and JSON errors everywhere."""

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
    admin_lock_acquire(
        tenant=tenant, holder="upgrade-run:1", reason="Upgrade", status_url="/t/x/upgrade/1/"
    )

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
