"""Fifty admins at once against gunicorn on PostgreSQL while upgrades run: p50/p95/p99 per page
and requests per second, from locust (headless, loopback only, bounded in users and time).

    .venv/bin/python bench/web_load.py                   # 50 sessions for 60 s: about 3 minutes
    .venv/bin/python bench/web_load.py --duration 30 --gunicorn-workers 3 --gunicorn-threads 2

Targets: p95 under 150 ms for every page, the status poll under 20 ms p95 and at most 2 queries,
zero errors; the exit status is 1 when one is missed (2 when the bench itself could not run).

What it sets up, all on this machine: a fresh scratch PostgreSQL database (default
portal_bench_web; the name must start with portal_bench) with tenants of 100,000 users each
(--tenant-users), seeded set-based: --browsing-tenants whose admins browse, and
--upgrading-tenants whose upgrade to Office 365 E5 is placed through the real services and run
by a real Celery worker (on Redis, BENCH_REDIS_URL, default db 5) with simulated latency
stretched so that the runs last the whole measured window. gunicorn serves the portal with the
production settings (static files collected, DEBUG off) on a free loopback port. Each admin
gets a session made beforehand, so no password hashing falls in the window. Then locust runs
--sessions users: --pollers admins of the upgrading tenants poll their status page once a second
(the page's htmx poll), the others browse Your products, Users (first page, searches, next
page), the Upgrade tab and take carts to checkout, with 1 to 3 s between clicks.

The status poll's query count is checked in-process first (Django's test client on the same
database, a 100,000-user tenant's running upgrade): at most 2 queries."""

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database_prepare, scratch_database_url  # noqa: E402
from bench.seed import billing_profile_add, plan_add, upgrade_place  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_web"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"
PAGE_P95_MS = 150
POLL_P95_MS = 20
POLL_MAX_QUERIES = 2
POLL_NAME = "Status poll"
# Admins arrive ten a second; locust's statistics start once all are there (--reset-stats), so
# the window holds no first-click stampede that real admins would never make.
SPAWN_RATE = 10
VENV_BIN = Path(sys.executable).parent


def environment(args, url: str, redis_url: str) -> dict:
    """The production settings, as docker-compose gives them, on this machine's services."""
    # The runs should outlast the window: warm-up, spawning and the measured time.
    stretch = (args.duration + 30) / args.tenant_users
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_SECURE_HSTS_SECONDS": "0",
        "PORTAL_TRUSTED_PROXY_COUNT": "0",
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "PORTAL_PROVISIONING_DELAY_SECONDS": "0",
        "PORTAL_SECONDS_PER_MOVED_USER": f"{stretch:.8f}",
        "PORTAL_CREDIT_CHECK_THRESHOLD": "1000000000000",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Data ----------------------------------------------------------------------------------


def tenant_seed(slug: str, users: int):
    """A tenant of `users` directory users on E4 with realistic names (searchable as on the
    demo), a Phone System add-on for a tenth of them and an Extra File Storage add-on; users
    and licenses are inserted set-based by the database."""
    from django.db import connection, transaction
    from django.utils import timezone

    from portal.models import Tenant
    from upgrades.demo import FIRST, LAST

    with transaction.atomic():
        tenant = Tenant.objects.create(
            slug=slug, name=f"Load {slug}", currency="USD", city="Seattle", country="US"
        )
        billing_profile_add(tenant)
        e4 = plan_add(tenant, "O365_E4", users)
        phone = plan_add(tenant, "PHONE_SYSTEM", users // 10, parent=e4)
        plan_add(tenant, "EXTRA_STORAGE", 100, parent=e4)
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO licensing_directoryuser (tenant_id, upn, display_name, department,
                                                     created_at)
                SELECT %(tenant)s, 'user' || lpad(i::text, 6, '0') || '@' || %(slug)s || '.example',
                       (%(first)s::text[])[1 + i %% %(nfirst)s] || ' '
                       || (%(last)s::text[])[1 + (i / %(nfirst)s) %% %(nlast)s] || ' '
                       || lpad(i::text, 6, '0'),
                       (ARRAY['Sales', 'Finance', 'Engineering', 'Support'])[1 + i %% 4], %(now)s
                FROM generate_series(0, %(users)s - 1) AS i
                """,
                {
                    "tenant": tenant.pk,
                    "slug": slug,
                    "first": FIRST,
                    "nfirst": len(FIRST),
                    "last": LAST,
                    "nlast": len(LAST),
                    "now": now,
                    "users": users,
                },
            )
            cursor.execute(
                """
                INSERT INTO licensing_licenseassignment (tenant_id, user_id, subscription_id,
                                                         disabled_services, assigned_at)
                SELECT %(tenant)s, id, %(e4)s, '[]'::jsonb, %(now)s
                FROM licensing_directoryuser WHERE tenant_id = %(tenant)s
                UNION ALL
                SELECT %(tenant)s, id, %(phone)s, '[]'::jsonb, %(now)s
                FROM (SELECT id FROM licensing_directoryuser WHERE tenant_id = %(tenant)s
                      ORDER BY id LIMIT %(tenth)s) AS first_tenth
                """,
                {
                    "tenant": tenant.pk,
                    "e4": e4.pk,
                    "phone": phone.pk,
                    "now": now,
                    "tenth": users // 10,
                },
            )
    return tenant, e4


def admin_add(tenant, name: str):
    """A Global admin of the tenant (no usable password: it signs in by session only)."""
    from django.contrib.auth import get_user_model

    from portal.models import Membership, Role

    user = get_user_model().objects.create(username=f"{name}@bench.test")
    user.set_unusable_password()
    user.save()
    Membership.objects.create(user=user, tenant=tenant, role=Role.GLOBAL_ADMIN)
    return user


def admin_session(tenant, name: str) -> str:
    """A Global admin of the tenant, signed in: the session key a browser would hold."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    user = admin_add(tenant, name)
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def plan_build(args) -> dict:
    """Seed the tenants, make the admins' sessions, place the upgrades. Returns the plan the
    locustfile reads."""
    from django.db import connection
    from django.urls import reverse

    plan = {"browsing": [], "polling": [], "runs": []}
    browsing = args.sessions - args.pollers
    tenants = []
    for index in range(args.browsing_tenants + args.upgrading_tenants):
        started = time.perf_counter()
        tenant, e4 = tenant_seed(f"load-{index}", args.tenant_users)
        tenants.append((tenant, e4))
        print(
            f"seeded tenant {tenant.slug}: {args.tenant_users:,} users "
            f"in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
    with connection.cursor() as cursor:
        for table in ("licensing_directoryuser", "licensing_licenseassignment"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    browsing_tenants = tenants[: args.browsing_tenants]
    for index in range(browsing):
        tenant, e4 = browsing_tenants[index % len(browsing_tenants)]
        plan["browsing"].append(
            {
                "tenant": tenant.slug,
                "e4": e4.pk,
                "quantity": args.tenant_users,
                "session": admin_session(tenant, f"browser-{index}"),
            }
        )
    upgrading = tenants[args.browsing_tenants :]
    runs = [
        upgrade_place(tenant, e4, admin_add(tenant, f"placer-{tenant.slug}"))
        for tenant, e4 in upgrading
    ]
    plan["runs"] = [run.pk for run in runs]
    for index in range(args.pollers):
        run = runs[index % len(runs)]
        plan["polling"].append(
            {
                "tenant": run.tenant.slug,
                "run": run.pk,
                "run_url": reverse("upgrade_status", args=[run.tenant.slug, run.pk]),
                "session": admin_session(run.tenant, f"poller-{index}"),
            }
        )
    return plan


def poll_query_count(plan) -> int:
    """The queries of one status poll of a running 100,000-user upgrade (the second poll of
    a session: the first fills the session cache)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    poller = plan["polling"][0]
    client = Client()
    client.cookies["sessionid"] = poller["session"]
    headers = {"HX-Request": "true"}
    assert client.get(poller["run_url"], headers=headers).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(poller["run_url"], headers=headers)
    assert response.status_code == 200, response.status_code
    return len(queries)


# --- Processes -----------------------------------------------------------------------------


class Service:
    """A server process in its own process group, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict, logs: Path):
        self.name = name
        self.log_path = logs / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def wait_until(check, what: str, service: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready:\n{service.tail()}")


def http_ok(url: str, cookie: str = "") -> bool:
    headers = {"Cookie": cookie} if cookie else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback http)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return response.status == 200
    except OSError:
        return False


def warm_up(base: str, plan: dict, workers: int) -> None:
    """Each page a few times per gunicorn process: imports, templates and connections ready
    before the window opens."""
    admin = plan["browsing"][0]
    poller = plan["polling"][0]
    pages = [
        (f"/t/{admin['tenant']}/billing/products/", admin),
        (f"/t/{admin['tenant']}/users/", admin),
        (f"/t/{admin['tenant']}/users/?q=Ada", admin),
        (f"/t/{admin['tenant']}/upgrade/subscriptions/{admin['e4']}/", admin),
        (poller["run_url"], poller),
    ]
    for _ in range(3 * workers):
        for path, who in pages:
            http_ok(base + path, f"sessionid={who['session']}")


# --- Report --------------------------------------------------------------------------------


def stats_read(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def report(rows: list[dict], poll_queries: int) -> bool:
    """Print the per-page table; True when every target holds."""
    ok = True
    print(
        f"\n{'page':22} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'req/s':>6}  target"
    )
    for row in rows:
        name = row["Name"]
        errors = int(row["Failure Count"])
        p95 = float(row["95%"])
        if name == "Aggregated":
            target, met = "no errors", errors == 0
        elif name == POLL_NAME:
            target = f"p95 < {POLL_P95_MS} ms"
            met = p95 < POLL_P95_MS and errors == 0
        else:
            target, met = f"p95 < {PAGE_P95_MS} ms", p95 < PAGE_P95_MS and errors == 0
        ok &= met
        print(
            f"{name:22} {int(row['Request Count']):8d} {errors:6d} {float(row['50%']):7.0f} "
            f"{p95:7.0f} {float(row['99%']):7.0f} {float(row['Requests/s']):6.1f}  "
            f"{target}{'' if met else '  MISSED'}"
        )
    met = poll_queries <= POLL_MAX_QUERIES
    ok &= met
    print(
        f"status poll: {poll_queries} queries (target <= {POLL_MAX_QUERIES})"
        f"{'' if met else '  MISSED'}"
    )
    return ok


def runs_progress(run_ids: list[int]) -> list[tuple]:
    from upgrades.models import UpgradeRun

    return list(
        UpgradeRun.objects.filter(pk__in=run_ids)
        .order_by("pk")
        .values_list("pk", "state", "moved", "total")
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50, help="concurrent admins")
    parser.add_argument("--pollers", type=int, default=10, help="of them, polling a run")
    parser.add_argument("--duration", type=int, default=60, help="measured seconds")
    parser.add_argument("--tenant-users", type=int, default=100_000)
    parser.add_argument("--browsing-tenants", type=int, default=3)
    parser.add_argument("--upgrading-tenants", type=int, default=2)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--gunicorn-threads", type=int, default=1)
    parser.add_argument(
        "--logs",
        help="keep the servers' logs (with gunicorn's access log, server-side times "
        "in microseconds) in this folder",
    )
    args = parser.parse_args()
    if not 0 < args.pollers < args.sessions or args.duration > 600:
        parser.error("need 0 < pollers < sessions and a duration of at most 600 s")

    url = scratch_database_url(default=DEFAULT_URL, script="bench/web_load.py")
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS)
    env = {**os.environ, **environment(args, url, redis_url)}
    os.environ.update(env)
    scratch_database_prepare(url, fresh=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    from config.celery import app

    app.control.purge()
    plan = plan_build(args)
    poll_queries = poll_query_count(plan)

    logs = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="web-load-"))
    logs.mkdir(parents=True, exist_ok=True)
    access_log = (
        ["--access-logfile", "-", "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"]
        if args.logs
        else []
    )
    services = []
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        services.append(
            Service(
                "worker",
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "--concurrency=2",
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                ],
                env,
                logs,
            )
        )
        gunicorn = Service(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.gunicorn_workers),
                "--threads",
                str(args.gunicorn_threads),
                *access_log,
            ],
            env,
            logs,
        )
        services.append(gunicorn)
        wait_until(lambda: http_ok(f"{base}/accounts/login/"), "gunicorn", gunicorn)
        warm_up(base, plan, args.gunicorn_workers)
        plan_path = logs / "plan.json"
        plan_path.write_text(json.dumps(plan))
        before = runs_progress(plan["runs"])
        print(
            f"\nlocust: {args.sessions} admins ({args.pollers} polling {len(plan['runs'])} "
            f"running upgrades) for {args.duration}s against gunicorn "
            f"({args.gunicorn_workers} workers x {args.gunicorn_threads} threads) on {base}",
            flush=True,
        )
        locust = subprocess.run(
            [
                str(VENV_BIN / "locust"),
                "-f",
                str(ROOT / "bench" / "web_load_locustfile.py"),
                "--headless",
                "--users",
                str(args.sessions),
                "--spawn-rate",
                str(SPAWN_RATE),
                "--run-time",
                f"{args.duration}s",
                "--reset-stats",
                "--stop-timeout",
                "5",
                "--host",
                base,
                "--csv",
                str(logs / "web"),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env={**env, "BENCH_WEB_PLAN": str(plan_path)},
            capture_output=True,
            text=True,
            timeout=args.duration + 120,
            check=False,
        )
        after = runs_progress(plan["runs"])
        for service in services:
            if not service.alive():
                print(f"{service.name} died during the load:\n{service.tail()}")
                return 2
        stats = logs / "web_stats.csv"
        if not stats.exists():
            print(locust.stdout[-3000:], locust.stderr[-3000:])
            return 2
        ok = report(stats_read(stats), poll_queries)
        ok &= locust.returncode == 0
        if locust.returncode:
            print(f"locust exited with {locust.returncode}: {locust.stderr[-2000:]}")
        for (pk, state0, moved0, _total0), (_pk, state1, moved1, total1) in zip(
            before, after, strict=True
        ):
            print(
                f"upgrade run {pk}: {state0} {moved0:,} -> {state1} {moved1:,} of "
                f"{total1:,} licenses moved during the window"
            )
        still = sum(state not in ("completed", "failed", "declined") for _, state, *_ in after)
        if still == 0:
            print("note: every upgrade finished before the window closed (longer --duration?)")
        print(f"\nweb load: {'every target met' if ok else 'a target was missed'}")
        return 0 if ok else 1
    finally:
        for service in reversed(services):
            service.stop()
        app.control.purge()
        if not args.logs:
            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
