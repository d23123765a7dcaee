"""The credit balance: credits beyond an order's charges never reach a card; they go to the
tenant's ledger, which checkout shows and later invoices use first. And upgrade credits are at
the price the source's period was charged at."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from billing import renewals
from billing.models import (
    CreditEntry,
    Invoice,
    InvoiceLine,
    LineKind,
    Order,
    Payment,
    Price,
    Product,
    Subscription,
)
from billing.payments import credit_balance, invoice_allowed
from portal import clock
from portal.clock import clock_advance
from portal.formatting import money_text
from portal.models import Role
from portal.selectors import TenantAccess
from tests.money import money_check
from upgrades import engine, services
from upgrades.models import RunState
from upgrades.quote import quote_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def northwind():
    """The demo's Northwind (E4 paid yearly, by invoice), seeded by the demo code, smaller."""
    from upgrades.demo import DEMO_TENANTS, _seed_tenant, demo_login

    spec = next(t for t in DEMO_TENANTS if t.slug == "northwind")
    plan = {**spec.plans[0], "quantity": 150, "assigned": 120}
    tenant = _seed_tenant(dataclasses.replace(spec, users=120, plans=[plan]), make_password("x"))
    admin = get_user_model().objects.get(username=demo_login("northwind", Role.GLOBAL_ADMIN))
    e4 = Subscription.objects.get(tenant=tenant, product__code="O365_E4")
    return tenant, admin, e4


def _checkout(tenant, admin, e4, *, frequency):
    access = TenantAccess(user=admin, tenant=tenant, role=Role.GLOBAL_ADMIN)
    cart = services.upgrade_cart_create(access=access, source=e4, target_code="O365_E5")
    cart = services.upgrade_cart_update(
        cart=cart, actor=admin, quantity=cart.quantity, billing_frequency=frequency
    )
    return services.upgrade_checkout_open(cart=cart, actor=admin)


def test_northwind_monthly_upgrade_charges_nothing_and_the_excess_credit_pays_renewals(
    northwind,
):
    tenant, admin, e4 = northwind
    clock_advance(delta=dt.timedelta(days=40))  # some of the paid year is used
    cart = _checkout(tenant, admin, e4, frequency="monthly")
    total = Decimal(cart.snapshot["total"])
    assert total < 0, "a year's unused E4 credit exceeds one month of E5"
    # Nothing to charge, so nothing to invoice and no credit check; checkout says where the
    # credit goes.
    assert not invoice_allowed(total=total, invoice_eligible=True)
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("upgrade_checkout", args=[tenant.slug, cart.pk])).content.decode()
    assert "Credit to your account" in page and money_text(-total, tenant.currency) in page
    run = services.upgrade_place(
        tenant=tenant, actor=admin, cart=cart, idempotency_key=cart.checkout_token
    )
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    money_check(run)
    order = Order.objects.get(pk=run.order_id)
    (invoice,) = Invoice.objects.filter(order=order)
    assert invoice.state == Invoice.State.PAID and invoice.total == total
    # Not a cent reached the card: the whole excess is on the tenant's ledger.
    assert not Payment.objects.filter(tenant=tenant).exists()
    (entry,) = CreditEntry.objects.filter(tenant=tenant)
    assert entry.kind == CreditEntry.Kind.CREDIT and entry.amount == -total
    assert credit_balance(tenant=tenant) == -total
    billing = client.get(reverse("billing", args=[tenant.slug])).content.decode()
    assert money_text(-total, tenant.currency) in billing and invoice.number in billing

    # The new plan's first renewal is paid from that balance, not by card.
    new = Subscription.objects.get(pk=run.new_subscription_id)
    clock_advance(delta=new.paid_through - clock.today())
    assert renewals.subscriptions_renew()["renewed"] == 1
    renewal = Invoice.objects.get(tenant=tenant, lines__kind=LineKind.RENEWAL)
    assert renewal.state == Invoice.State.PAID
    used = CreditEntry.objects.get(invoice=renewal)
    assert used.kind == CreditEntry.Kind.APPLIED and used.amount == -renewal.total
    assert not Payment.objects.filter(tenant=tenant).exists()
    assert credit_balance(tenant=tenant) == -total - renewal.total


def test_an_upgrade_credits_the_price_the_source_was_charged_not_todays_list_price(northwind):
    tenant, admin, e4 = northwind
    paid = e4.term_unit_price
    assert paid == Price.objects.get(product=e4.product, currency=tenant.currency).monthly
    Price.objects.filter(product=e4.product, currency=tenant.currency).update(monthly=paid * 2)
    e4.refresh_from_db()
    quote = quote_build(
        source=e4,
        target=Product.objects.get(code="O365_E5"),
        quantity=e4.quantity,
        billing_frequency="yearly",
        addons=[],
    )
    (credit,) = [line for line in quote.lines if line.kind == LineKind.CREDIT]
    assert credit.unit_price == paid
    # A full year unused (bought today): the credit is exactly what was paid for it.
    assert -credit.amount == paid * e4.quantity * 12


def test_a_cancellation_credit_goes_to_the_balance_and_pays_the_next_purchase(tenant, admin_for):
    from billing.services import subscription_cancel, subscription_licenses_add
    from tests.factories import SubscriptionFactory, product

    e3 = SubscriptionFactory(
        tenant=tenant,
        product=product("O365_E3"),
        quantity=5,
        paid_through=clock.today() + dt.timedelta(days=20),
    )
    e1 = SubscriptionFactory(
        tenant=tenant,
        product=product("O365_E1"),
        quantity=5,
        paid_through=clock.today() + dt.timedelta(days=20),
    )
    subscription_cancel(tenant=tenant, actor=None, subscription_id=e3.pk)
    credit = credit_balance(tenant=tenant)
    assert credit > 0 and not Payment.objects.filter(tenant=tenant).exists()
    subscription_licenses_add(tenant=tenant, actor=None, subscription_id=e1.pk, count=1)
    added = InvoiceLine.objects.get(subscription=e1, kind=LineKind.ADDED)
    assert added.amount < credit
    assert credit_balance(tenant=tenant) == credit - added.amount
    assert added.invoice.state == Invoice.State.PAID
    assert not Payment.objects.filter(tenant=tenant).exists()
