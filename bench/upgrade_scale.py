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
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database_prepare, scratch_database_url  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_upgrade"
TARGET_RATIO = 1.5
TARGET_EXPONENT = 1.15
RATIO_AT = 100_000
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
    os.environ["PORTAL_SECONDS_PER_MOVED_USER"] = "0"
    os.environ["PORTAL_PROVISIONING_DELAY_SECONDS"] = "0"
    # A real order this size waits for a credit check; the bench times the run, not the wait.
    os.environ["PORTAL_CREDIT_CHECK_THRESHOLD"] = "1000000000000"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("licensing_directoryuser", "licensing_licenseassignment"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def tenant_seed(users: int):
    """A fresh tenant: users and their E4 licenses inserted set-based by the database."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from billing.models import BillingProfile, Product, Status
    from billing.services import subscription_create
    from portal.models import Membership, Role, Tenant

    slug = f"bench-upgrade-{users}"
    with transaction.atomic():
        tenant = Tenant.objects.create(
            slug=slug, name=f"Upgrade bench {users}", currency="USD", city="Seattle"
        )
        BillingProfile.objects.create(
            tenant=tenant,
            contact_name="AP",
            contact_email="ap@bench.test",
            address_line="1 Main Street",
            city="Seattle",
            postal_code="98101",
            country="US",
            card_brand="Visa",
            card_last4="4242",
            card_token="tok_visa",
        )
        admin, _ = get_user_model().objects.get_or_create(username="bench-upgrader@bench.test")
        Membership.objects.create(user=admin, tenant=tenant, role=Role.GLOBAL_ADMIN)
        e4 = subscription_create(
            tenant=tenant,
            product=Product.objects.get(code="O365_E4"),
            quantity=users,
            billing_frequency="monthly",
            channel="direct_card",
            status=Status.ACTIVE,
        )
        subscription_create(
            tenant=tenant,
            product=Product.objects.get(code="EXTRA_STORAGE"),
            quantity=100,
            billing_frequency="monthly",
            channel="direct_card",
            parent=e4,
            status=Status.ACTIVE,
        )
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO licensing_directoryuser (tenant_id, upn, display_name, department,
                                                     created_at)
                SELECT %s, 'user' || i || '@' || %s || '.example', 'User ' || lpad(i::text, 6, '0'),
                       'Sales', %s
                FROM generate_series(1, %s) AS i
                """,
                [tenant.pk, slug, now, users],
            )
            cursor.execute(
                """
                INSERT INTO licensing_licenseassignment (tenant_id, user_id, subscription_id,
                                                         disabled_services, assigned_at)
                SELECT %s, id, %s, '[]'::jsonb, %s FROM licensing_directoryuser
                WHERE tenant_id = %s ORDER BY id
                """,
                [tenant.pk, e4.pk, now, tenant.pk],
            )
    return tenant, e4, admin


def upgrade_place(tenant, e4, admin):
    from portal.selectors import tenant_access_get
    from upgrades import services

    access = tenant_access_get(user=admin, slug=tenant.slug)
    cart = services.upgrade_cart_create(access=access, source=e4, target_code="O365_E5")
    cart = services.upgrade_checkout_open(cart=cart, actor=admin)
    return services.upgrade_place(
        tenant=tenant, actor=admin, cart=cart, idempotency_key=cart.checkout_token
    )


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
