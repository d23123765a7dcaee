"""Fixtures of the upgrade tests: an E4 tenant with users and add-ons, and a helper that takes
a cart through checkout to a placed order the way the pages do."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from billing.models import Product
from portal.models import Role
from portal.selectors import TenantAccess
from tests.factories import (
    BillingProfileFactory,
    MembershipFactory,
    SubscriptionFactory,
    TenantFactory,
    UserFactory,
    product,
    users_with_licenses,
)
from upgrades import services


def catalog_ensure():
    """Transactional tests flush the tables, the catalog included: load it again (idempotent)."""
    from billing.catalog import catalog_apply
    from billing.models import Price, UpgradePath

    if not Product.objects.filter(code="O365_E4").exists():
        catalog_apply(product_model=Product, price_model=Price, path_model=UpgradePath)


def make_e4_tenant(
    *,
    users: int = 10,
    quantity: int | None = None,
    addons=(),
    role=Role.GLOBAL_ADMIN,
    card_token="tok_visa",  # noqa: S107 (a simulated card token)
    source="O365_E4",
    **subscription,
):
    """A tenant with one `source` subscription holding `users` licenses; addons are
    (code, quantity, users holding it) tuples."""
    tenant = TenantFactory()
    BillingProfileFactory(tenant=tenant, card_token=card_token)
    admin = UserFactory()
    MembershipFactory(user=admin, tenant=tenant, role=role)
    now = timezone.now()
    subscription.setdefault("ready_at", now - dt.timedelta(hours=1))
    e4 = SubscriptionFactory(
        tenant=tenant,
        product=product(source),
        quantity=quantity if quantity is not None else users,
        **subscription,
    )
    people = users_with_licenses(e4, users)
    created = {}
    for code, addon_quantity, holders in addons:
        addon = SubscriptionFactory(
            tenant=tenant,
            product=product(code),
            parent=e4,
            quantity=addon_quantity,
            paid_through=e4.paid_through,
            ready_at=now - dt.timedelta(hours=1),
        )
        from licensing.models import LicenseAssignment

        LicenseAssignment.objects.bulk_create(
            [
                LicenseAssignment(tenant=tenant, user=u, subscription=addon, assigned_at=now)
                for u in people[:holders]
            ]
        )
        created[code] = addon
    return SimpleNamespace(tenant=tenant, e4=e4, admin=admin, users=people, addons=created)


def access_of(t) -> TenantAccess:
    membership = t.admin.memberships.get(tenant=t.tenant)
    return TenantAccess(user=t.admin, tenant=t.tenant, role=membership.role)


def checkout(t, *, target="O365_E5", quantity=None, billing_frequency=None, payment_method=None):
    """Cart -> checkout (snapshot frozen) for tenant namespace t; returns the cart."""
    cart = services.upgrade_cart_create(access=access_of(t), source=t.e4, target_code=target)
    if quantity is not None or billing_frequency is not None:
        cart = services.upgrade_cart_update(
            cart=cart,
            actor=t.admin,
            quantity=quantity or cart.quantity,
            billing_frequency=billing_frequency or cart.billing_frequency,
        )
    cart = services.upgrade_checkout_open(cart=cart, actor=t.admin)
    if payment_method is not None:
        cart = services.upgrade_checkout_update(
            cart=cart, actor=t.admin, payment_method=payment_method
        )
    return cart


def place(t, **kwargs):
    cart = checkout(t, **kwargs)
    return services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )


@pytest.fixture
def e4_tenant(db):
    return make_e4_tenant


def celery_queue_purge():
    """Drop messages left in the test broker (runs queued by earlier transactional tests)."""
    from config.celery import app

    with app.connection_for_write() as connection:
        app.control.purge(connection=connection)


@pytest.fixture
def committed_catalog(transactional_db):
    catalog_ensure()
    celery_queue_purge()
    yield
    celery_queue_purge()
