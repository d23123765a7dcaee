"""Upgrades through the API: eligibility with reasons, placing with an Idempotency-Key, status."""

import pytest

from portal.models import AdminLock, ApiIdempotencyKey, Role
from upgrades import engine
from upgrades.models import RunState, UpgradeRun

from ..factories import SubscriptionFactory, TenantFactory, product

pytestmark = pytest.mark.django_db


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

    # 404, as the same id gets in a path (it was 422 `not_found`): another tenant's subscription
    # answers exactly as one that does not exist, wherever the request names it (issue 12).
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}
    assert not UpgradeRun.objects.exists()
    assert not ApiIdempotencyKey.objects.exists()


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


RUN_KEYS = [
    "id",
    "state",
    "state_label",
    "terminal",
    "source_subscription_id",
    "target",
    "new_subscription_id",
    "progress",
    "failed_step",
    "failure_reason",
    "placed_at",
    "finished_at",
    "scheduled_for",
    "estimate",
    "order",
    "status_url",
]


def test_a_run_keeps_its_fields_in_their_order(api, e4):
    placed = _place(api, e4).json()
    run_id = placed["id"]

    status = api.get(f"upgrades/{run_id}").json()
    listed = api.get("upgrades").json()["items"][0]

    assert list(placed) == list(status) == [*RUN_KEYS, "events"]
    assert list(listed) == RUN_KEYS  # no events in a list
    assert list(status["events"][0]) == ["from", "to", "at", "actor", "reason"]
    assert list(status["order"]) == ["id", "total", "currency", "payment_method"]
    assert status["placed_at"] == UpgradeRun.objects.get(pk=run_id).placed_at.isoformat()


def test_the_api_and_the_upgrade_status_command_print_the_same_run(api, e4):
    import json
    from io import StringIO

    from django.core.management import call_command

    run_id = _place(api, e4).json()["id"]
    out = StringIO()
    call_command("upgrade_status", "--tenant", api.tenant.slug, str(run_id), "--json", stdout=out)

    assert json.loads(out.getvalue()) == api.get(f"upgrades/{run_id}").json()


def test_a_replay_matches_the_body_whatever_the_order_of_its_fields(api, tenant, e4):
    first = _place(api, e4, po_number=None)

    replay = api.post(
        "upgrades",
        {"po_number": None, "target": "O365_E5", "subscription_id": e4.pk},
        **{"Idempotency-Key": "order-1"},
    )

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()


def test_the_key_is_bound_to_the_fingerprint_of_the_json_body_as_sent(api, tenant, e4):
    """Keys stored before the move to django-ninja keep replaying: the fingerprint is still the
    SHA-256 of method, path and the canonical JSON of the body as sent."""
    import hashlib
    import json

    body = {"subscription_id": e4.pk, "target": "O365_E5", "po_number": None}
    _place(api, e4, po_number=None)

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    path = f"/api/v1/tenants/{tenant.slug}/upgrades"
    expected = hashlib.sha256(f"POST {path}\n{canonical}".encode()).hexdigest()
    assert ApiIdempotencyKey.objects.get(tenant=tenant, key="order-1").fingerprint == expected


def test_a_new_order_while_locked_is_423_but_a_replay_is_not(api, e4):
    first = _place(api, e4, key="order-1")

    replay = _place(api, e4, key="order-1")
    second = _place(api, e4, key="order-2")

    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert second.status_code == 423
    assert second.json()["code"] == "admin_locked"


def test_a_role_that_cannot_buy_gets_403_even_while_locked(tenant, api_for, api, e4):
    # Tokens are made before the lock: a locked tenant's admins cannot create any.
    reader = api_for(tenant, Role.GLOBAL_READER)
    _place(api, e4)

    response = _place(reader, e4, key="order-2")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
