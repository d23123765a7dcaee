"""A real Celery worker process against Redis and the test database, killed with SIGKILL in
the middle of moving licenses: a second worker and the reconciler finish the run, with the end
state of an uninterrupted run, and no user ever holds zero or two of the two licenses."""

import time

import pytest
from django.db.models import Count, Q

from billing.models import Invoice, Subscription
from licensing.models import DirectoryUser, LicenseAssignment
from portal.models import AdminLock
from upgrades import engine, services
from upgrades.models import RunState, UpgradeRun

from .conftest import make_e4_tenant, place
from .workers import start_worker

USERS = 300
ADDONS = [("PHONE_SYSTEM", 120, 120), ("AUDIO_CONF", 80, 80), ("EXTRA_STORAGE", 250, 0)]


def users_not_on_exactly_one(tenant) -> int:
    """One statement, so it sees one consistent moment."""
    return (
        DirectoryUser.objects.filter(tenant=tenant)
        .annotate(
            n=Count(
                "licenses",
                filter=Q(licenses__subscription__product__code__in=["O365_E4", "O365_E5"]),
            )
        )
        .exclude(n=1)
        .count()
    )


def end_state(tenant) -> dict:
    """What an upgrade leaves behind, in terms that do not depend on ids."""
    run = UpgradeRun.objects.get(tenant=tenant)
    subscriptions = Subscription.objects.filter(tenant=tenant).select_related(
        "product", "parent__product"
    )
    return {
        "run": (run.state, run.moved, run.total, run.failure_reason),
        "subscriptions": sorted(
            (
                s.product.code,
                s.status,
                s.parent.product.code if s.parent else None,
                s.quantity,
                LicenseAssignment.objects.filter(subscription=s).count(),
            )
            for s in subscriptions
        ),
        "invoice_lines": sorted(
            (line.description, line.amount)
            for invoice in Invoice.objects.filter(tenant=tenant)
            for line in invoice.lines.all()
        ),
        "locked": AdminLock.objects.filter(tenant=tenant).exists(),
        "licenses_per_user": sorted(
            set(
                DirectoryUser.objects.filter(tenant=tenant)
                .annotate(n=Count("licenses", filter=Q(licenses__subscription__is_addon=False)))
                .values_list("n", flat=True)
            )
        ),
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_move_the_run_completes_as_if_uninterrupted(
    committed_catalog, tmp_path, settings
):
    from .conftest import celery_queue_purge

    settings.PORTAL_UPGRADE_STALE_SECONDS = 1.0
    # The reference: the same tenant, upgraded without interruption (in this process).
    reference = make_e4_tenant(users=USERS, addons=ADDONS)
    engine.run_advance(run_id=place(reference).pk)
    celery_queue_purge()

    t = make_e4_tenant(users=USERS, addons=ADDONS)
    run = place(t)  # queued on Redis once committed
    samples = 0

    def sample():
        nonlocal samples
        assert users_not_on_exactly_one(t.tenant) == 0
        samples += 1
        return UpgradeRun.objects.get(pk=run.pk)

    first = start_worker(tmp_path, "first", PORTAL_SECONDS_PER_MOVED_USER="0.01")
    try:
        deadline = time.monotonic() + 60
        current = sample()
        while not (current.state == RunState.MOVING_LICENSES and current.moved > 0):
            assert time.monotonic() < deadline, first.log_path.read_text()[-3000:]
            time.sleep(0.02)
            current = sample()
        first.kill()
    finally:
        first.stop()
    killed_at = sample()
    assert killed_at.state == RunState.MOVING_LICENSES
    assert 0 < killed_at.moved < USERS
    time.sleep(1.0)
    assert sample().moved == killed_at.moved  # nothing moves without a worker

    second = start_worker(tmp_path, "second", PORTAL_SECONDS_PER_MOVED_USER="0.002")
    try:
        assert services.upgrade_runs_reconcile()["requeued"] == 1
        deadline = time.monotonic() + 60
        current = sample()
        while current.state != RunState.COMPLETED:
            assert not current.is_terminal, current.failure_reason
            assert time.monotonic() < deadline, second.log_path.read_text()[-3000:]
            time.sleep(0.02)
            current = sample()
    finally:
        second.stop()

    assert samples > 20
    assert current.attempts == 1
    assert end_state(t.tenant) == end_state(reference.tenant)
    assert end_state(t.tenant)["licenses_per_user"] == [1]
