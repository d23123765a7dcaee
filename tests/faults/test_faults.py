"""Fault injection on real processes: a Celery worker (tests/faults/worker_app) on Redis and
PostgreSQL is killed at each step boundary and inside the license move, loses its database
connection mid-run, or meets a failure at each step followed by support's retry. Every case
ends as an uninterrupted run would, or fully compensated and then completed by the retry; a
sampler shows no user ever held zero or two of the two plans, and the money check holds."""

import time

import pytest
from django.db import connection

from billing.models import Status, Subscription
from licensing.models import LicenseAssignment
from portal.models import AdminLock
from tests.factories import UserFactory
from tests.money import money_check
from tests.upgrades.conftest import make_e4_tenant, place
from upgrades import services
from upgrades.models import RunState

from .conftest import ended, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

USERS = 200
ADDONS = [("PHONE_SYSTEM", 80, 80), ("EXTRA_STORAGE", 100, 0)]


def assert_completed_like_an_uninterrupted_run(t, run):
    assert run.state == RunState.COMPLETED, (run.failure_reason, run.last_error)
    assert (run.moved, run.total) == (USERS, USERS)
    assert LicenseAssignment.objects.filter(subscription_id=run.new_subscription_id).count() == (
        USERS
    )
    assert not LicenseAssignment.objects.filter(subscription=t.e4).exists()
    phone = Subscription.objects.get(pk=t.addons["PHONE_SYSTEM"].pk)
    storage = Subscription.objects.get(pk=t.addons["EXTRA_STORAGE"].pk)
    assert phone.status == Status.DISABLED and not phone.assignments.exists()
    assert storage.parent_id == run.new_subscription_id
    assert Subscription.objects.get(pk=t.e4.pk).status == Status.EXPIRED
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    money_check(run)


@pytest.mark.parametrize(
    "fault",
    [
        {"kill_after": RunState.PLACED},
        {"kill_after": RunState.PROVISIONING},
        {"kill_in_move": 2},
        {"kill_after": RunState.MOVING_LICENSES},
        {"kill_after": RunState.REMOVING_ADDONS},
    ],
    ids=lambda fault: "-".join(str(v) for item in fault.items() for v in item),
)
def test_a_worker_killed_at_any_point_the_run_completes_as_if_uninterrupted(
    fault_workers, sampler, fault
):
    t = make_e4_tenant(users=USERS, addons=ADDONS)
    watch = sampler(t.tenant)
    first = fault_workers.start(plan=fault)
    run = place(t)
    deadline = time.monotonic() + 60
    while first.process.poll() is None:
        assert time.monotonic() < deadline, fault_workers.logs()
        time.sleep(0.05)
    assert first.process.returncode == -9  # it was killed where the plan said
    run.refresh_from_db()
    assert run.state not in (RunState.COMPLETED, RunState.FAILED)

    fault_workers.start()
    run = wait_for(run.pk, ended, workers=fault_workers)

    watch.finish()
    assert_completed_like_an_uninterrupted_run(t, run)
    assert run.attempts >= 1  # the reconciler, not redelivery, sent it on


@pytest.mark.parametrize(
    "step",
    [
        RunState.PROVISIONING,
        RunState.MOVING_LICENSES,
        RunState.REMOVING_ADDONS,
        RunState.CANCELLING_SOURCE,
    ],
)
def test_a_failure_at_any_step_is_compensated_and_supports_retry_completes_it(
    fault_workers, sampler, step
):
    t = make_e4_tenant(users=USERS, addons=ADDONS)
    watch = sampler(t.tenant)
    fault_workers.start(plan={"raise_at": step})
    run = place(t)
    run = wait_for(run.pk, ended, workers=fault_workers)

    assert run.state == RunState.FAILED and run.failed_step == step
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == USERS
    phone = Subscription.objects.get(pk=t.addons["PHONE_SYSTEM"].pk)
    assert phone.status == Status.ACTIVE and phone.assignments.count() == 80
    assert Subscription.objects.get(pk=t.addons["EXTRA_STORAGE"].pk).parent_id == t.e4.pk
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    money_check(run)

    run = services.upgrade_retry(run=run, actor=UserFactory(is_staff=True), reason="retry")
    run = wait_for(run.pk, ended, workers=fault_workers)

    watch.finish()
    assert_completed_like_an_uninterrupted_run(t, run)


def test_the_workers_database_connection_killed_mid_run_the_run_still_completes(
    fault_workers, sampler
):
    t = make_e4_tenant(users=USERS, addons=ADDONS)
    watch = sampler(t.tenant)
    worker = fault_workers.start(PORTAL_SECONDS_PER_MOVED_USER="0.01")
    run = place(t)
    wait_for(
        run.pk,
        lambda r: r.state == RunState.MOVING_LICENSES and r.moved > 0,
        workers=fault_workers,
        reconcile=False,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' "
            "AND query NOT LIKE '%%licensing_directoryuser u%%'"  # the sampler's own
        )
        assert cursor.rowcount >= 1
    run = wait_for(run.pk, ended, workers=fault_workers)

    watch.finish()
    assert worker.process.poll() is None  # the same worker lived through it
    assert_completed_like_an_uninterrupted_run(t, run)
    assert "terminat" in run.last_error or "closed" in run.last_error, run.last_error
    assert "Retry in" in worker.log_path.read_text()  # the task retried, with backoff
