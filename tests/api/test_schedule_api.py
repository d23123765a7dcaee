"""Scheduling through the API: place an upgrade for a maintenance window, read its window and
estimate, cancel it before the window; bad times are refused with a reason."""

import datetime as dt

import pytest

from billing.models import Invoice, Order
from portal import clock
from portal.models import AdminLock, Role
from upgrades.models import RunState, UpgradeRun

from ..factories import TenantFactory

pytestmark = pytest.mark.django_db


def _place(api, e4, key="order-1", **body):
    return api.post(
        "upgrades",
        {"subscription_id": e4.pk, "target": "O365_E5", **body},
        **{"Idempotency-Key": key},
    )


def _in(hours: float) -> str:
    return (clock.now() + dt.timedelta(hours=hours)).isoformat()


def test_an_upgrade_placed_for_a_window_waits_unlocked_and_uncharged(api, tenant, e4):
    response = _place(api, e4, start_at=_in(3))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == RunState.SCHEDULED
    assert dt.datetime.fromisoformat(body["scheduled_for"]) > clock.now()
    assert body["estimate"]["users"] == 10 and body["estimate"]["seconds"] > 0
    assert not AdminLock.objects.filter(tenant=tenant).exists()
    assert not Invoice.objects.filter(tenant=tenant).exists()
    # The status reads the same.
    status = api.get(f"upgrades/{body['id']}").json()
    assert status["scheduled_for"] == body["scheduled_for"]


@pytest.mark.parametrize(
    ("start_at", "code"),
    [
        (lambda: _in(0.5), "window_too_soon"),
        (lambda: _in(24 * 15), "window_too_far"),
        (lambda: "2026-12-10T22:00:00", "invalid_request"),  # no UTC offset
        (lambda: "tomorrow", "invalid_request"),
    ],
)
def test_a_window_out_of_bounds_is_refused_and_nothing_is_placed(api, tenant, e4, start_at, code):
    response = _place(api, e4, start_at=start_at())
    assert response.status_code in (400, 422), response.json()
    assert response.json()["code"] == code
    assert not UpgradeRun.objects.filter(tenant=tenant).exists()


def test_a_scheduled_upgrade_is_cancelled_before_its_window(api, tenant, e4):
    run_id = _place(api, e4, start_at=_in(5)).json()["id"]
    response = api.post(f"upgrades/{run_id}/cancel", {"reason": "not this week"})
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == RunState.CANCELLED
    assert Order.objects.get(upgrade_run__pk=run_id).state == Order.State.CANCELLED
    assert not Invoice.objects.filter(tenant=tenant).exists()
    again = api.post(f"upgrades/{run_id}/cancel", {})
    assert again.status_code == 409
    assert again.json()["code"] == "run_not_scheduled"


def test_a_started_upgrade_cannot_be_cancelled(api, e4):
    run_id = _place(api, e4).json()["id"]
    response = api.post(f"upgrades/{run_id}/cancel", {})
    # A started upgrade locks the tenant: the lock answers first.
    assert response.status_code == 423
    assert response.json()["code"] == "admin_locked"
    assert UpgradeRun.objects.get(pk=run_id).state == RunState.PLACED


def test_cancelling_needs_the_purchase_role_and_the_tenants_own_run(tenant, api_for, api, e4):
    run_id = _place(api, e4, start_at=_in(5)).json()["id"]
    reader = api_for(tenant, Role.GLOBAL_READER)
    assert reader.post(f"upgrades/{run_id}/cancel", {}).status_code == 403
    stranger = api_for(TenantFactory())
    assert stranger.post(f"upgrades/{run_id}/cancel", {}).status_code == 404
    assert UpgradeRun.objects.get(pk=run_id).state == RunState.SCHEDULED
