"""Twenty Place order clicks at once, on PostgreSQL: one order, one run."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from billing.models import Order
from portal.models import AdminLock
from upgrades.models import UpgradeRun

from .conftest import checkout, make_e4_tenant

SUBMITS = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_place_order_posts_make_one_order_and_one_run(committed_catalog):
    assert connection.vendor == "postgresql"
    t = make_e4_tenant(users=10)
    cart = checkout(t)
    place_url = reverse("upgrade_place", args=[t.tenant.slug, cart.pk])
    start = threading.Barrier(SUBMITS)
    responses, errors = [None] * SUBMITS, []

    def submit(i):
        try:
            client = Client()
            client.force_login(t.admin)
            start.wait(timeout=30)
            responses[i] = client.post(place_url, {"idempotency_key": cart.checkout_token})
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(SUBMITS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert Order.objects.filter(tenant=t.tenant).count() == 1
    run = UpgradeRun.objects.get(tenant=t.tenant)
    status_url = reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    assert [r.status_code for r in responses] == [302] * SUBMITS
    assert {r["Location"] for r in responses} == {status_url}
    assert AdminLock.objects.get(tenant=t.tenant).holder == run
