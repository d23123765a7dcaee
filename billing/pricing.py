"""Prices and proration. Money is Decimal, rounded to cents half-up, never float."""

import calendar
import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from portal.errors import DomainError
from portal.texts import StoredText, stored, text

from .models import BillingFrequency, LineKind, Price, Product, Subscription

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


def term_price(subscription: Subscription) -> Decimal:
    """The price per license per month the subscription's current term was charged at: what
    licenses added during the term cost and what unused time is credited at. (Subscriptions
    from before prices were recorded fall back to the list price.)"""
    if subscription.term_unit_price is not None:
        return subscription.term_unit_price
    return price_monthly(product=subscription.product, currency=subscription.tenant.currency)


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
    """The first day of the period the subscription is paid through: as recorded when the term
    began (a term from the 31st to the 28th of February is 28 days, not 31), or else counted
    back from paid_through."""
    if subscription.term_start is not None and subscription.term_start < subscription.paid_through:
        return subscription.term_start
    return add_months(subscription.paid_through, -months_per_period(subscription.billing_frequency))


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


def unused_time_line(
    *, subscription: Subscription, quantity: int, today: dt.date, description: str
) -> "Line | None":
    """The credit for `quantity` licenses' unused time, from today to the end of the paid
    period, at the price that period was charged at; None when nothing is left to credit.
    Prepaid and trial time is never credited."""
    if subscription.is_prepaid or subscription.is_trial:
        return None
    unit = term_price(subscription)
    credit = prorated_amount(
        subscription=subscription, unit_price=unit, quantity=quantity, today=today
    )
    if not credit:
        return None
    return Line(
        description=description,
        quantity=-quantity,
        amount=-credit,
        subscription_id=subscription.pk,
        kind=LineKind.CREDIT,
        unit_price=unit,
        period_start=max(today, period_start(subscription)),
        period_end=subscription.paid_through,
    )


def term_line(*, subscription: Subscription, start: dt.date, kind: str, description: str):
    """One whole new term of the subscription from `start`, at today's list price.
    `description` is a message key given the product and the term's last day."""
    unit = price_monthly(product=subscription.product, currency=subscription.tenant.currency)
    end = paid_through_for(start=start, billing_frequency=subscription.billing_frequency)
    return Line(
        description=text(description, product=subscription.product.name, date=end),
        quantity=subscription.quantity,
        amount=period_charge(
            unit_price=unit,
            quantity=subscription.quantity,
            billing_frequency=subscription.billing_frequency,
        ),
        subscription_id=subscription.pk,
        kind=kind,
        unit_price=unit,
        period_start=start,
        period_end=end,
    )


@dataclass(frozen=True)
class Line:
    """One priced line of an order; negative amounts are credits. `unit_price` is the price per
    license per month it charges or credits, and [period_start, period_end) the service period
    it covers."""

    description: StoredText | str  # a stored text (portal.texts), shown in the reader's language
    quantity: int
    amount: Decimal
    subscription_id: int | None = None
    kind: str = LineKind.PURCHASE
    unit_price: Decimal | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None

    def as_json(self) -> dict:
        return {
            "description": stored(self.description).as_data(),
            "quantity": self.quantity,
            "amount": str(self.amount),
            "subscription_id": self.subscription_id,
            "kind": self.kind,
            "unit_price": None if self.unit_price is None else str(self.unit_price),
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> "Line":
        def day(key):
            return dt.date.fromisoformat(data[key]) if data.get(key) else None

        return cls(
            description=StoredText.from_data(data["description"]),
            quantity=data["quantity"],
            amount=Decimal(data["amount"]),
            subscription_id=data.get("subscription_id"),
            kind=data.get("kind") or LineKind.PURCHASE,
            unit_price=Decimal(data["unit_price"]) if data.get("unit_price") else None,
            period_start=day("period_start"),
            period_end=day("period_end"),
        )

    def for_subscription(self, subscription_id: int) -> "Line":
        return replace(self, subscription_id=subscription_id)


def lines_total(lines) -> Decimal:
    return money(sum((line.amount for line in lines), Decimal("0")))
