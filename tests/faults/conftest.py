"""The fault-injection suite's tools: a real worker with fault hooks (tests/faults/worker_app),
a sampler that watches, from its own connection, that no user ever holds zero or two of the two
plans, and a driver that plays the reconciler until the run ends."""

import json
import threading
import time

import psycopg
import pytest
from django.db import connection

from tests.processes import Worker, worker_env
from tests.upgrades.conftest import committed_catalog  # noqa: F401 (a fixture used here)
from tests.upgrades.workers import database_url_of_test_db
from upgrades import services
from upgrades.models import TERMINAL_STATES, UpgradeRun


class FaultWorkers:
    def __init__(self, tmp_path, settings):
        self.tmp_path = tmp_path
        self.plan = tmp_path / "plan.json"
        self.plan.write_text("{}")
        self.workers: list[Worker] = []
        self.settings = settings

    def start(self, *, plan: dict | None = None, **env) -> Worker:
        if plan is not None:
            self.plan.write_text(json.dumps(plan))
        defaults = {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url_of_test_db(),
            "REDIS_URL": self.settings.REDIS_URL,
            "CELERY_BROKER_URL": self.settings.REDIS_URL,
            "PORTAL_PROVISIONING_DELAY_SECONDS": "0",
            "PORTAL_SECONDS_PER_MOVED_USER": "0.002",
            "PORTAL_UPGRADE_BATCH_SIZE": "40",
            "FAULT_PLAN": str(self.plan),
        }
        name = f"worker{len(self.workers) + 1}"
        worker = Worker(
            worker_env(**{**defaults, **env}),
            self.tmp_path / f"{name}.log",
            app="tests.faults.worker_app",
        )
        self.workers.append(worker)
        worker.wait_ready()
        return worker

    def logs(self) -> str:
        return "\n".join(w.log_path.read_text()[-2500:] for w in self.workers)

    def stop(self):
        for worker in self.workers:
            worker.stop()


@pytest.fixture
def fault_workers(tmp_path, settings, committed_catalog):  # noqa: F811 (the fixture)
    # A heartbeat comes with every batch (well under a second); two seconds without one is a
    # stopped run, even on a slow machine.
    settings.PORTAL_UPGRADE_STALE_SECONDS = 2.0
    workers = FaultWorkers(tmp_path, settings)
    yield workers
    workers.stop()


class Sampler(threading.Thread):
    """Counts, many times a second and from its own connection, the tenant's users who do not
    hold exactly one license of the two plans (one statement: one consistent moment)."""

    SQL = """
        SELECT count(*) FROM licensing_directoryuser u
        WHERE u.tenant_id = %(tenant)s AND (
            SELECT count(*) FROM licensing_licenseassignment a
            JOIN billing_subscription s ON s.id = a.subscription_id
            JOIN billing_product p ON p.id = s.product_id
            WHERE a.user_id = u.id AND p.code IN (%(source)s, %(target)s)
        ) <> 1
    """

    def __init__(self, tenant_id: int, source="O365_E4", target="O365_E5"):
        super().__init__(daemon=True)
        self.params = {"tenant": tenant_id, "source": source, "target": target}
        self.samples = 0
        self.violations = []
        self.halt = threading.Event()

    def run(self):
        s = connection.settings_dict
        with psycopg.connect(
            host=s["HOST"] or "127.0.0.1",
            port=s["PORT"] or 5432,
            user=s["USER"],
            password=s["PASSWORD"] or None,
            dbname=s["NAME"],
            autocommit=True,
        ) as conn:
            while not self.halt.is_set():
                try:
                    bad = conn.execute(self.SQL, self.params).fetchone()[0]
                except psycopg.OperationalError:
                    time.sleep(0.05)  # the test may be killing backends on purpose
                    continue
                self.samples += 1
                if bad:
                    self.violations.append(bad)
                time.sleep(0.005)

    def finish(self):
        self.halt.set()
        self.join(timeout=10)
        assert self.samples > 10, self.samples
        assert self.violations == [], f"users with 0 or 2 plans at {len(self.violations)} moments"
        print(f"\nsampler: {self.samples} samples, no user on 0 or 2 plans")


@pytest.fixture
def sampler():
    started = []

    def start(tenant):
        s = Sampler(tenant.pk)
        s.start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.halt.set()


def wait_for(run_id: int, until, *, workers: FaultWorkers, timeout: float = 60, reconcile=True):
    """Poll the run until `until(run)`; meanwhile play the periodic reconciler (beat's job)."""
    deadline = time.monotonic() + timeout
    next_reconcile = time.monotonic() + 1.5
    while True:
        run = UpgradeRun.objects.get(pk=run_id)
        if until(run):
            return run
        assert time.monotonic() < deadline, (run.state, run.last_error, workers.logs())
        if reconcile and time.monotonic() > next_reconcile:
            services.upgrade_runs_reconcile()
            next_reconcile = time.monotonic() + 1.0
        time.sleep(0.05)


def ended(run) -> bool:
    return run.state in TERMINAL_STATES
