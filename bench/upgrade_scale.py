"""Times an upgrade run of a tenant of N users against one raw SQL statement moving the same N
license rows, in the same process, for each N asked (default 10,000, 100,000 and 1,000,000); prints
both times and their ratio per N, the exponent of time against N fitted over the sizes run (1 is
linear), and last the ratio at 100,000 users. Targets: ratio 1.5 or less at 100,000 users, exponent
1.15 or less; the exit status is 1 when one is missed.

    .venv/bin/python bench/upgrade_scale.py              # 10k, 100k, 1M: about two minutes
    .venv/bin/python bench/upgrade_scale.py 100000       # one size
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench_upgrade .venv/bin/python \
        bench/upgrade_scale.py 10000 20000

For each size it drops, creates and migrates its own scratch PostgreSQL database (default
portal_bench_upgrade; the name must start with portal_bench), seeds a fresh tenant (E4 for
every user, an Extra File Storage add-on) and places the upgrade to Office 365 E5 through
the real services (cart, checkout, place order). Then it runs the engine in-process with zero
simulated latency, from Placed to Completed, every step included (payment, batched moves,
add-ons, cancelling E4). The raw statement is then `UPDATE licensing_licenseassignment SET
subscription_id = E4 WHERE subscription_id = E5` on the same rows. Both start after VACUUM
ANALYZE, as autovacuum would leave a live database. Celery is pointed at an in-memory broker:
nothing is sent anywhere. Each size runs in a child process of its own, so that no size
inherits another's caches or connections."""

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database_prepare, scratch_database_url  # noqa: E402
from bench.seed import django_setup, tenant_seed, upgrade_place, vacuum  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_upgrade"
TARGET_RATIO = 1.5
TARGET_EXPONENT = 1.15
RATIO_AT = 100_000
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def size_measure(users: int) -> dict:
    """Seed, place and run one upgrade of `users` users, then time the raw statement."""
    url = scratch_database_url(default=DEFAULT_URL, script="bench/upgrade_scale.py")
    scratch_database_prepare(url, fresh=True)
    django_setup(url)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from licensing.models import LicenseAssignment
    from upgrades import engine
    from upgrades.models import RunState

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    tenant, e4, admin = tenant_seed(users)
    seeded = time.perf_counter() - started
    run = upgrade_place(tenant, e4, admin)
    vacuum()

    started = time.perf_counter()
    state = engine.run_advance(run_id=run.pk)
    run_seconds = time.perf_counter() - started
    run.refresh_from_db()
    assert state == RunState.COMPLETED, (state, run.failure_reason)
    e5_id = run.new_subscription_id
    moved = LicenseAssignment.objects.filter(subscription_id=e5_id).count()
    assert moved == users and run.moved == users, (moved, run.moved)

    vacuum()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "UPDATE licensing_licenseassignment SET subscription_id = %s "
            "WHERE subscription_id = %s",
            [e4.pk, e5_id],
        )
        sql_seconds = time.perf_counter() - started
        assert cursor.rowcount == users
    return {
        "users": users,
        "seeded": seeded,
        "batch": settings.PORTAL_UPGRADE_BATCH_SIZE,
        "run": run_seconds,
        "sql": sql_seconds,
    }


def exponent_fit(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of log(seconds) against log(users): 1 is linear."""
    xs = [math.log(users) for users, _seconds in points]
    ys = [math.log(seconds) for _users, seconds in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("users", nargs="*", type=int, help="tenant sizes (default: 10k 100k 1M)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(size_measure(args.users[0])))
        return 0
    sizes = sorted(set(args.users)) or list(DEFAULT_SIZES)
    results = []
    for users in sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(users)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode:
            sys.stderr.write(child.stdout + child.stderr)
            return 2
        row = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(row)
        print(
            f"users={row['users']:>9,}  batch={row['batch']}  seeded in {row['seeded']:.1f}s  "
            f"upgrade run {row['run']:.3f}s  raw UPDATE {row['sql']:.3f}s  "
            f"ratio {row['run'] / row['sql']:.2f}  "
            f"({row['users'] / row['run']:,.0f} licenses/s)",
            flush=True,
        )
    failed = False
    if len(results) >= 2:
        exponent = exponent_fit([(row["users"], row["run"]) for row in results])
        failed |= exponent > TARGET_EXPONENT
        print(
            f"time grows as N^{exponent:.2f} over {', '.join(f'{n:,}' for n in sizes)} users "
            f"(target <= {TARGET_EXPONENT:g}: linear)"
        )
    at = next((row for row in results if row["users"] == RATIO_AT), results[-1])
    ratio = at["run"] / at["sql"]
    failed |= ratio > TARGET_RATIO
    print(f"ratio at {at['users']:,} users: {ratio:.2f} (target <= {TARGET_RATIO:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
