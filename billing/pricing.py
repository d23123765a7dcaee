"""Prices and proration. Money is Decimal, rounded to cents half-up, never float."""

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from portal.errors import DomainError

from .models import BillingFrequency, Price, Product, Subscription

CENT = Decimal("0.01")


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def months_per_period(billing_frequency: str) -> int:
    return 12 if billing_frequency == BillingFrequency.YEARLY else 1


def price_monthly(*, product: Product, currency: str) -> Decimal:
    price = Price.objects.filter(product=product, currency=currency).first()
    if price is None:
        raise DomainError(
            _("%(product)s has no price in %(currency)s.")
            % {"product": product.name, "currency": currency},
            code="no_price",
        )
    return price.monthly


def period_charge(*, unit_price: Decimal, quantity: int, billing_frequency: str) -> Decimal:
    """What one billing period costs: twelve months up front when yearly, one when monthly."""
    return money(unit_price * quantity * months_per_period(billing_frequency))


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def paid_through_for(*, start: dt.date, billing_frequency: str) -> dt.date:
    return add_months(start, months_per_period(billing_frequency))


def period_start(subscription: Subscription) -> dt.date:
    return add_months(subscription.paid_through, -months_per_period(subscription.billing_frequency))


def prorated_credit(*, subscription: Subscription, unit_price: Decimal, today: dt.date) -> Decimal:
    """Credit for the unused part of the period the subscription is paid through. Prepaid and
    trial subscriptions earn no credit (unused prepaid time is not refunded)."""
    if subscription.is_prepaid or subscription.is_trial:
        return Decimal("0.00")
    return prorated_amount(
        subscription=subscription,
        unit_price=unit_price,
        quantity=subscription.quantity,
        today=today,
    )


def prorated_amount(
    *, subscription: Subscription, unit_price: Decimal, quantity: int, today: dt.date
) -> Decimal:
    """What `quantity` licenses cost for the rest of the period the subscription is paid
    through: the charge for licenses added mid-term, or the credit for licenses removed."""
    if today >= subscription.paid_through:
        return Decimal("0.00")
    start = period_start(subscription)
    total_days = (subscription.paid_through - start).days
    unused_days = (subscription.paid_through - max(today, start)).days
    if total_days <= 0 or unused_days <= 0:
        return Decimal("0.00")
    paid = unit_price * quantity * months_per_period(subscription.billing_frequency)
    return money(paid * unused_days / total_days)


@dataclass(frozen=True)
class Line:
    """One priced line of an order; negative amounts are credits."""

    description: str
    quantity: int
    amount: Decimal
    subscription_id: int | None = None

    def as_json(self) -> dict:
        return {
            "description": self.description,
            "quantity": self.quantity,
            "amount": str(self.amount),
            "subscription_id": self.subscription_id,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Line":
        return cls(
            description=data["description"],
            quantity=data["quantity"],
            amount=Decimal(data["amount"]),
            subscription_id=data.get("subscription_id"),
        )


def lines_total(lines) -> Decimal:
    return money(sum((line.amount for line in lines), Decimal("0")))
