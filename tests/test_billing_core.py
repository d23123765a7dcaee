import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from billing.models import Invoice, Order, Payment
from billing.orders import order_get_or_create
from billing.payments import PaymentDeclined, card_charge, credit_check_required
from billing.pricing import unused_time_line
from portal.errors import DomainError

from .factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_prorated_credit_is_the_unused_share_of_the_paid_period():
    subscription = SubscriptionFactory(
        quantity=10,
        billing_frequency="monthly",
        paid_through=dt.date(2026, 12, 1),
        term_unit_price=Decimal("22.00"),
    )
    # Paid 2026-11-01 .. 2026-12-01 (30 days), 10 days unused.
    line = unused_time_line(
        subscription=subscription, quantity=10, today=dt.date(2026, 11, 21), description="credit"
    )
    assert -line.amount == Decimal("73.33")


def test_prepaid_time_earns_no_credit():
    subscription = SubscriptionFactory(is_prepaid=True, paid_through=dt.date(2027, 6, 1))
    assert (
        unused_time_line(
            subscription=subscription, quantity=10, today=dt.date(2026, 11, 21), description="x"
        )
        is None
    )


def test_declining_card_records_the_refusal_and_raises(tenant):
    tenant.billing_profile.card_token = "tok_decline"
    tenant.billing_profile.save()
    with pytest.raises(PaymentDeclined):
        card_charge(tenant=tenant, amount=Decimal("10.00"), invoice=None)
    assert Payment.objects.get(tenant=tenant).result == "declined"


def test_invoice_payment_always_needs_a_credit_check_and_card_only_above_threshold(settings):
    settings.PORTAL_CREDIT_CHECK_THRESHOLD = "1000.00"
    assert credit_check_required(total=Decimal("5"), payment_method="invoice")
    assert not credit_check_required(total=Decimal("1000.00"), payment_method="card")
    assert credit_check_required(total=Decimal("1000.01"), payment_method="card")


def _order(tenant, key, fingerprint="f1"):
    with transaction.atomic():
        return order_get_or_create(
            tenant=tenant,
            kind="purchase",
            idempotency_key=key,
            fingerprint=fingerprint,
            defaults={"currency": "USD", "total": Decimal("1"), "payment_method": "card"},
            actor=None,
        )


def test_replayed_order_returns_the_first_order(tenant):
    first, created = _order(tenant, "k1")
    again, created_again = _order(tenant, "k1")
    assert created and not created_again
    assert first.pk == again.pk
    assert Order.objects.count() == 1
    assert Invoice.objects.count() == 0


def test_same_key_with_a_different_request_is_refused(tenant):
    _order(tenant, "k1", "f1")
    with pytest.raises(DomainError, match="different order"):
        _order(tenant, "k1", "f2")
