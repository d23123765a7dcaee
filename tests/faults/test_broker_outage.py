"""Redis restarted while an upgrade is moving licenses: the worker that was running it lives
through the outage (same process, no manual restart), the run completes, and an order placed
after the outage is consumed by that same worker.

Runs against a throwaway `redis-server` (tests/faults/redis_server.py), never the shared Redis.
That Redis keeps nothing across a restart, like the compose file's, so the in-flight message is
gone afterwards; the reconciler (beat's job in production, called from here when A's heartbeat
goes stale) is what re-sends a run that stopped.

The crash this guards against (kombu's Redis transport closing the consumer's channel after the
connection's transport was already released: "Unrecoverable error: AttributeError('NoneType'
object has no attribute 'hostname')") needs the worker to have a BRPOP outstanding while A runs,
as the production worker has (`--concurrency=2`, prefetch 1). The test worker has one process,
so it gets a prefetch of 2 instead, which leaves the same free slot.
"""

import time
from contextlib import contextmanager

import pytest
from django.test import override_settings

from tests.upgrades.conftest import catalog_ensure, make_e4_tenant, place
from tests.upgrades.workers import start_worker
from upgrades import services
from upgrades.models import RunState, UpgradeRun

from .redis_server import RedisServer

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

USERS_A = 200
USERS_B = 10
SECONDS_PER_MOVED_USER = 0.05  # A's license move takes USERS_A * 0.05 = 10 s, in 0.5 s batches
OUTAGE_SECONDS = 5.0
STALE_SECONDS = 3.0  # a heartbeat comes with every batch; 3 s without one is a stalled run
TIMEOUT = 90.0  # from placing A to B completed


@contextmanager
def celery_app_on_broker(url: str):
    """Point this process's Celery app (what upgrade_place and the reconciler send with) at
    another broker, with fresh connection and producer pools; put it all back afterwards."""
    from config.celery import app

    def reset_pools():
        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
        if app.amqp._producer_pool is not None:
            app.amqp._producer_pool.force_close_all()
            app.amqp._producer_pool = None

    previous = app.conf.broker_url
    reset_pools()
    app.conf.broker_url = url
    try:
        with override_settings(CELERY_BROKER_URL=url):
            yield app
    finally:
        reset_pools()
        app.conf.broker_url = previous


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_worker_survives_a_redis_restart_mid_upgrade(tmp_path, redis, settings):
    catalog_ensure()  # transactional tests flush the tables, the catalog included
    settings.PORTAL_UPGRADE_STALE_SECONDS = STALE_SECONDS
    broker = redis.url(0)
    a = make_e4_tenant(users=USERS_A)
    b = make_e4_tenant(users=USERS_B)
    requeued = 0

    with celery_app_on_broker(broker):
        worker = start_worker(
            tmp_path,
            "worker",
            pool="prefork",  # what `celery -A config worker` runs in production
            CELERY_BROKER_URL=broker,
            REDIS_URL=broker,
            CELERY_RESULT_BACKEND=broker,
            # Read by the worker command line (`--prefetch-multiplier`): see the docstring.
            CELERY_WORKER_PREFETCH_MULTIPLIER="2",
            PORTAL_SECONDS_PER_MOVED_USER=str(SECONDS_PER_MOVED_USER),
            PORTAL_UPGRADE_STALE_SECONDS=str(STALE_SECONDS),
        )
        pid = worker.process.pid
        deadline = time.monotonic() + TIMEOUT

        def logs() -> str:
            return (
                f"\n--- worker log (pid {pid}, exit code {worker.process.poll()}) ---\n"
                + worker.log_path.read_text(errors="replace")[-5000:]
                + f"\n--- redis log ---\n{redis.log_tail(600)}"
            )

        def wait_for(run_pk, done, what, *, reconcile=False):
            """Poll the run until done(run). With reconcile, re-send it when it stalls."""
            nonlocal requeued
            while True:
                run = UpgradeRun.objects.get(pk=run_pk)
                if done(run):
                    return run
                assert worker.process.poll() is None, f"the worker died ({what}){logs()}"
                assert not run.is_terminal, f"run {run.state}: {run.failure_reason}{logs()}"
                assert time.monotonic() < deadline, (
                    f"timed out waiting for {what} ({run.state} {run.moved}/{run.total}){logs()}"
                )
                if reconcile:
                    requeued += services.upgrade_runs_reconcile()["requeued"]
                time.sleep(0.1)

        try:
            run_a = place(a)
            wait_for(
                run_a.pk,
                lambda r: r.state == RunState.MOVING_LICENSES and r.moved > 0,
                "A to start moving licenses",
            )
            redis.stop()
            time.sleep(OUTAGE_SECONDS)
            during = UpgradeRun.objects.get(pk=run_a.pk)
            redis.start()
            outage_over = time.monotonic()

            run_a = wait_for(
                run_a.pk, lambda r: r.state == RunState.COMPLETED, "A to complete", reconcile=True
            )
            # Placed after the outage, consumed by the worker that lived through it; no
            # reconciler here: the new message alone must get it done.
            run_b = wait_for(place(b).pk, lambda r: r.state == RunState.COMPLETED, "B to complete")
            finished = time.monotonic()

            assert worker.process.poll() is None and worker.process.pid == pid, logs()
            assert "Unrecoverable error" not in worker.log_path.read_text(errors="replace"), logs()
        finally:
            worker.stop()

    assert during.state == RunState.MOVING_LICENSES and during.moved < USERS_A
    assert (run_a.moved, run_a.total) == (USERS_A, USERS_A)
    assert (run_b.moved, run_b.total) == (USERS_B, USERS_B)
    print(
        f"\nA had moved {during.moved}/{USERS_A} at the end of the outage; the reconciler "
        f"re-sent {requeued} run(s); A and B done {finished - outage_over:.1f} s after it"
    )
