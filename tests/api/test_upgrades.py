"""Upgrades through the API: eligibility with reasons, placing with an Idempotency-Key, status."""

import pytest

from portal.models import AdminLock, ApiIdempotencyKey, Role
from upgrades import engine
from upgrades.models import RunState, UpgradeRun

from ..factories import SubscriptionFactory, TenantFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


@pytest.fixture
def e4(tenant):
    e4 = SubscriptionFactory(tenant=tenant, product=product("O365_E4"), quantity=12)
    users_with_licenses(e4, 10)
    return e4


def _place(api, e4, key="order-1", **body):
    return api.post(
        "upgrades",
        {"subscription_id": e4.pk, "target": "O365_E5", **body},
        **{"Idempotency-Key": key},
    )


def test_eligibility_lists_the_targets_of_an_eligible_subscription(api, e4):
    body = api.get(f"subscriptions/{e4.pk}/eligibility").json()

    assert body["eligible"] is True
    assert body["reasons"] == []
    assert "O365_E5" in {t["code"] for t in body["targets"] if t["available"]}


def test_eligibility_gives_the_reasons_a_subscription_cannot_be_upgraded(api, tenant):
    trial = SubscriptionFactory(tenant=tenant, product=product("O365_E4"), is_trial=True)

    body = api.get(f"subscriptions/{trial.pk}/eligibility").json()

    assert body["eligible"] is False
    reason = next(r for r in body["reasons"] if r["code"] == "trial")
    assert reason["message"] and reason["remedy"]


def test_a_reader_sees_why_they_cannot_buy(tenant, api_for, e4):
    body = api_for(tenant, Role.GLOBAL_READER).get(f"subscriptions/{e4.pk}/eligibility").json()

    assert "read_only_role" in {r["code"] for r in body["reasons"]}


def test_placing_an_upgrade_returns_the_run_and_locks_the_tenant(api, tenant, e4):
    response = _place(api, e4)

    assert response.status_code == 201, response.content
    body = response.json()
    run = UpgradeRun.objects.get(tenant=tenant)
    assert body["id"] == run.pk
    assert body["state"] == RunState.PLACED
    assert body["status_url"].endswith(f"/runs/{run.pk}/")
    assert response["Idempotent-Replayed"] == "false"
    assert AdminLock.objects.filter(tenant=tenant).exists()


def test_a_replay_with_the_same_key_returns_the_first_result(api, tenant, e4):
    first = _place(api, e4)

    replay = _place(api, e4)

    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert UpgradeRun.objects.filter(tenant=tenant).count() == 1


def test_the_same_key_with_a_different_body_is_refused(api, tenant, e4):
    _place(api, e4)

    response = _place(api, e4, target="M365_E5")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert UpgradeRun.objects.filter(tenant=tenant).count() == 1


def test_placing_without_an_idempotency_key_is_refused(api, tenant, e4):
    response = api.post("upgrades", {"subscription_id": e4.pk, "target": "O365_E5"})

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert not UpgradeRun.objects.filter(tenant=tenant).exists()


def test_a_refused_order_leaves_nothing_behind_and_its_key_can_be_used_again(api, tenant, e4):
    refused = _place(api, e4, quantity=5)  # fewer licenses than the current twelve

    assert refused.status_code == 422
    assert refused.json()["code"] == "quantity_below_current"
    assert not UpgradeRun.objects.filter(tenant=tenant).exists()
    assert not ApiIdempotencyKey.objects.filter(tenant=tenant).exists()
    assert not AdminLock.objects.filter(tenant=tenant).exists()

    assert _place(api, e4, quantity=12).status_code == 201


def test_a_target_that_is_not_offered_is_422(api, e4):
    response = _place(api, e4, target="NOPE")

    assert response.status_code == 422
    assert response.json()["code"] == "no_path"


def test_another_tenants_subscription_cannot_be_upgraded(api):
    theirs = SubscriptionFactory(tenant=TenantFactory(), product=product("O365_E4"))

    response = _place(api, theirs)

    assert response.status_code == 422
    assert response.json()["code"] == "not_found"
    assert not UpgradeRun.objects.exists()


def test_a_billing_admin_may_place_but_a_license_admin_may_not(tenant, api_for, e4):
    assert _place(api_for(tenant, Role.LICENSE_ADMIN), e4).status_code == 403
    assert _place(api_for(tenant, Role.BILLING_ADMIN), e4).status_code == 201


def test_status_is_readable_while_the_rest_of_the_api_is_locked(api, e4):
    run_id = _place(api, e4).json()["id"]

    status = api.get(f"upgrades/{run_id}")

    assert status.status_code == 200
    assert [e["to"] for e in status.json()["events"]] == [RunState.PLACED]
    assert api.get("upgrades").status_code == 200
    assert api.get("subscriptions").status_code == 423


def test_status_follows_the_run_to_completion(api, e4):
    run_id = _place(api, e4).json()["id"]

    engine.run_advance(run_id=run_id)
    body = api.get(f"upgrades/{run_id}").json()

    assert body["state"] == RunState.COMPLETED
    assert body["progress"] == {"moved": 10, "total": 10, "percent": 100}
    assert body["events"][-1]["to"] == RunState.COMPLETED
    assert api.get("subscriptions").status_code == 200  # unlocked


def test_runs_can_be_listed_by_state(api, e4):
    run_id = _place(api, e4).json()["id"]

    assert [r["id"] for r in api.get("upgrades", state="placed").json()["items"]] == [run_id]
    assert api.get("upgrades", state="failed").json()["items"] == []


def test_another_tenants_run_is_404(api):
    from tests.upgrades.conftest import make_e4_tenant, place

    theirs = place(make_e4_tenant(users=2))

    response = api.get(f"upgrades/{theirs.pk}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
