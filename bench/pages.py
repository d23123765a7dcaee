"""Times the admin center's busiest pages for a tenant of 100,000 users and for one of 100 users
in the same run, and prints each median and the ratio large/small (target: no page above 1.5x).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal_bench .venv/bin/python bench/pages.py

It creates and migrates its own scratch PostgreSQL database (default portal_bench) and never
touches the embedded SQLite database. The seeded tenants are kept, so a second run starts timing
at once; pass --reseed to build them again. Pages are fetched in-process with Django's test
Client (no network), as a signed-in Global admin, after warm-up runs."""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import scratch_database_prepare, scratch_database_url  # noqa: E402
from bench.seed import billing_profile_add, plan_add  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
LARGE, SMALL = 100_000, 100
TARGET_RATIO = 1.5


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()
    from django.conf import settings

    # The test settings' ALLOWED_HOSTS come from the environment read above.
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS.append("testserver")


def tenant_seed(slug: str, users: int):
    """A tenant shaped like the demo: E4 for everyone, an E5 bought for half of them (the
    manual route under way), a per-user add-on and a capacity add-on."""
    from django.db import transaction
    from django.utils import timezone

    from licensing.models import DirectoryUser, LicenseAssignment
    from portal.models import Tenant
    from upgrades.demo import FIRST, LAST

    Tenant.objects.filter(slug=slug).delete()
    with transaction.atomic():
        tenant = Tenant.objects.create(
            slug=slug, name=f"Bench {users}", currency="USD", city="Seattle", country="US"
        )
        billing_profile_add(tenant)

        e4 = plan_add(tenant, "O365_E4", users)
        e5 = plan_add(tenant, "M365_E5", users)
        phone = plan_add(tenant, "PHONE_SYSTEM", users // 10, parent=e4)
        plan_add(tenant, "EXTRA_STORAGE", 100, parent=e4)
        people = DirectoryUser.objects.bulk_create(
            [
                DirectoryUser(
                    tenant=tenant,
                    display_name=f"{FIRST[i % len(FIRST)]} {LAST[(i // 26) % len(LAST)]} {i:06d}",
                    upn=f"user{i:06d}@{slug}.example",
                    department=["Sales", "Finance", "Engineering", "Support"][i % 4],
                )
                for i in range(users)
            ],
            batch_size=5000,
        )
        now = timezone.now()
        half = users // 2
        rows = [
            LicenseAssignment(
                tenant=tenant, user=p, subscription=e5 if i < half else e4, assigned_at=now
            )
            for i, p in enumerate(people)
        ]
        rows += [
            LicenseAssignment(tenant=tenant, user=p, subscription=phone, assigned_at=now)
            for p in people[: users // 10]
        ]
        LicenseAssignment.objects.bulk_create(rows, batch_size=5000)
    return tenant


def tenants_ready(reseed: bool):
    from licensing.models import DirectoryUser
    from portal.models import Tenant

    tenants = {}
    for slug, users in (("bench-large", LARGE), ("bench-small", SMALL)):
        tenant = Tenant.objects.filter(slug=slug).first()
        if reseed or tenant is None or DirectoryUser.objects.filter(tenant=tenant).count() != users:
            started = time.perf_counter()
            tenant = tenant_seed(slug, users)
            print(f"seeded {slug}: {users} users in {time.perf_counter() - started:.1f}s")
        tenants[slug] = tenant
    # What autovacuum does for a live database: statistics and an up-to-date visibility map.
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("licensing_directoryuser", "licensing_licenseassignment"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return tenants["bench-large"], tenants["bench-small"]


def signed_in_client(tenants):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from portal.models import Membership, Role

    user, _ = get_user_model().objects.get_or_create(username="bench-admin@bench.test")
    for tenant in tenants:
        Membership.objects.get_or_create(
            user=user, tenant=tenant, defaults={"role": Role.GLOBAL_ADMIN}
        )
    client = Client()
    client.force_login(user)
    return client


def time_page(client, url: str, params: dict, *, warmup: int, runs: int) -> float:
    for _ in range(warmup):
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, params)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(samples) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=25, help="timed runs per page and tenant")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--reseed", action="store_true", help="build the tenants again")
    args = parser.parse_args()

    url = scratch_database_url(default=DEFAULT_URL, script="bench/pages.py")
    scratch_database_prepare(url, fresh=False)
    django_setup(url)
    from django.core.management import call_command
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    large, small = tenants_ready(args.reseed)
    client = signed_in_client([large, small])

    pages = [
        ("Users: first page", "users", {}),
        # A common name prefix: 1 user in 26 (a full page of 50 in the large tenant, 4 in the
        # small one, so the large page also renders more rows).
        ("Users: name search 'Ada'", "users", {"q": "Ada"}),
        # A full name that exists in both tenants: search cost at equal output.
        ("Users: name search, one user", "users", {"q": "Dana Bianchi 000029"}),
        # A user-name prefix filling the page in both tenants (100 vs 1,000 matches).
        ("Users: search 'user0000'", "users", {"q": "user0000"}),
        ("Your products", "products", {"status": "all"}),
    ]
    print(f"\n{'page':32} {SMALL:>7} users {LARGE:>7} users   ratio")
    worst = 0.0
    for label, name, params in pages:
        # Alternate the tenants so that drift of the machine affects both alike.
        small_ms, large_ms = [], []
        for _ in range(3):
            small_ms.append(
                time_page(
                    client,
                    reverse(name, args=[small.slug]),
                    params,
                    warmup=args.warmup,
                    runs=args.runs,
                )
            )
            large_ms.append(
                time_page(
                    client,
                    reverse(name, args=[large.slug]),
                    params,
                    warmup=args.warmup,
                    runs=args.runs,
                )
            )
        s, lg = statistics.median(small_ms), statistics.median(large_ms)
        ratio = lg / s
        worst = max(worst, ratio)
        flag = "" if ratio <= TARGET_RATIO else "  above target"
        print(f"{label:32} {s:10.1f} ms {lg:10.1f} ms   {ratio:4.2f}x{flag}")
    print(f"\nworst ratio {worst:.2f}x (target {TARGET_RATIO}x)")
    return 0 if worst <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
