"""Ten API clients send the same order with the same Idempotency-Key at once, on PostgreSQL:
one order, one run, and every client gets the first result."""

import threading
from unittest import mock

import pytest
from django.db import connection
from django.test import Client

from billing.models import Order
from portal.api.services import api_token_create
from portal.models import Membership
from upgrades.models import UpgradeRun

from ..upgrades.conftest import catalog_ensure, make_e4_tenant

CLIENTS = 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_place_one_order_and_all_get_its_result():
    assert connection.vendor == "postgresql"
    catalog_ensure()
    t = make_e4_tenant(users=10)
    _token, raw = api_token_create(
        membership=Membership.objects.get(user=t.admin, tenant=t.tenant), name="race"
    )
    url = f"/api/v1/tenants/{t.tenant.slug}/upgrades"
    body = {"subscription_id": t.e4.pk, "target": "O365_E5"}
    start = threading.Barrier(CLIENTS)
    responses, errors = [None] * CLIENTS, []

    def send(i):
        try:
            client = Client(headers={"Authorization": f"Bearer {raw}", "Idempotency-Key": "k-1"})
            start.wait(timeout=30)
            responses[i] = client.post(url, body, content_type="application/json")
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            connection.close()

    # The run's task is queued on commit; no worker is needed to count orders.
    with mock.patch("upgrades.services.run_advance_send"):
        threads = [threading.Thread(target=send, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert [r.status_code for r in responses] == [201] * CLIENTS
    run = UpgradeRun.objects.get(tenant=t.tenant)
    assert Order.objects.filter(tenant=t.tenant).count() == 1
    assert {r.json()["id"] for r in responses} == {run.pk}
    assert sorted(r["Idempotent-Replayed"] for r in responses) == ["false"] + ["true"] * (
        CLIENTS - 1
    )
