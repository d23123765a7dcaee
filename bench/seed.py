"""What the upgrade benchmarks share: Django set up on a scratch database, tenants of N users on
E4 seeded set-based by the database, the upgrade to Office 365 E5 placed through the real
services, and VACUUM ANALYZE as autovacuum would leave a live database."""

import os


def django_setup(url: str, *, broker: str = "memory://") -> None:
    """Django on the scratch database `url`, with zero simulated latency and no credit check.
    Celery's broker is in memory (nothing is sent anywhere) unless `broker` names a real one
    (a Redis URL: Place order then sends the run to the workers listening on it)."""
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_BROKER_URL"] = broker
    if broker.startswith("memory://"):
        os.environ["CELERY_RESULT_BACKEND"] = "cache+memory://"
    else:
        os.environ["REDIS_URL"] = broker
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


def billing_profile_add(tenant) -> None:
    """A card on file (the simulated Visa that always pays) and an address to bill."""
    from billing.models import BillingProfile

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


def plan_add(tenant, code: str, quantity: int, parent=None):
    """An active monthly subscription of the product `code`, paid by card."""
    from billing.models import Product, Status
    from billing.services import subscription_create

    return subscription_create(
        tenant=tenant,
        product=Product.objects.get(code=code),
        quantity=quantity,
        billing_frequency="monthly",
        channel="direct_card",
        parent=parent,
        status=Status.ACTIVE,
    )


def tenant_seed(users: int, *, slug: str | None = None):
    """A fresh tenant: users and their E4 licenses inserted set-based by the database. Without
    a slug it is bench-upgrade-N, placed by the shared bench-upgrader@bench.test; with one,
    its Global admin is admin@SLUG.test, so that tenants seeded side by side share nothing."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from portal.models import Membership, Role, Tenant

    admin_name = "bench-upgrader@bench.test" if slug is None else f"admin@{slug}.test"
    slug = slug or f"bench-upgrade-{users}"
    with transaction.atomic():
        tenant = Tenant.objects.create(
            slug=slug, name=f"Upgrade bench {slug}", currency="USD", city="Seattle"
        )
        billing_profile_add(tenant)
        admin, _ = get_user_model().objects.get_or_create(username=admin_name)
        Membership.objects.create(user=admin, tenant=tenant, role=Role.GLOBAL_ADMIN)
        e4 = plan_add(tenant, "O365_E4", users)
        plan_add(tenant, "EXTRA_STORAGE", 100, parent=e4)
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


def upgrade_checkout(tenant, e4, admin):
    """Cart and checkout for the upgrade of `e4` to Office 365 E5, as the admin would in the
    browser: returns the cart, ready for Place order."""
    from portal.selectors import tenant_access_get
    from upgrades import services

    access = tenant_access_get(user=admin, slug=tenant.slug)
    cart = services.upgrade_cart_create(access=access, source=e4, target_code="O365_E5")
    return services.upgrade_checkout_open(cart=cart, actor=admin)


def order_place(tenant, admin, cart):
    """Place order on a checked-out cart: the run is queued on commit."""
    from upgrades import services

    return services.upgrade_place(
        tenant=tenant, actor=admin, cart=cart, idempotency_key=cart.checkout_token
    )


def upgrade_place(tenant, e4, admin):
    """Cart, checkout and Place order for the upgrade of `e4` to Office 365 E5."""
    return order_place(tenant, admin, upgrade_checkout(tenant, e4, admin))
