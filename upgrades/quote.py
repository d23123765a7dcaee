"""The upgrade's price: the new plan's charge for one billing period, minus the prorated credit
for the unused part of the source's paid period and of the add-ons the new plan includes.
The same function draws the cart's live preview and the snapshot frozen at checkout."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from billing.models import BillingFrequency, LineKind, Product, Subscription
from billing.pricing import (
    Line,
    lines_total,
    paid_through_for,
    period_charge,
    price_monthly,
    unused_time_line,
)
from portal import clock
from portal.texts import text

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Quote:
    currency: str
    unit_price: Decimal
    lines: tuple[Line, ...]
    total: Decimal
    moved_addon_ids: tuple[int, ...]
    removed_addon_ids: tuple[int, ...]
    # The day from which unused time is credited: the credited services are paid through it.
    credit_from: dt.date
    # Each add-on's paid-through day as priced: one that renews before a scheduled start no
    # longer matches the order (its new period would be removed uncredited).
    addons_paid_through: tuple[tuple[int, str], ...] = ()


def quote_build(
    *,
    source: Subscription,
    target: Product,
    quantity: int,
    billing_frequency: str,
    addons,
    as_of: dt.date | None = None,
) -> Quote:
    """`addons` are the source's live add-on subscriptions (with .product loaded). `as_of` is
    the day the upgrade starts (a maintenance window's; by default today): the new plan's
    period starts then and unused time is credited from then, so an upgrade scheduled two
    weeks ahead is not credited the two weeks its users still spend on the source."""
    addons = list(addons)
    currency = source.tenant.currency
    today = as_of or clock.today()
    unit_price = price_monthly(product=target, currency=currency)
    plan_line = (
        "upgrades.line.plan_yearly"
        if billing_frequency == BillingFrequency.YEARLY
        else "upgrades.line.plan_monthly"
    )
    lines = [
        Line(
            description=text(plan_line, plan=target.name),
            quantity=quantity,
            amount=period_charge(
                unit_price=unit_price, quantity=quantity, billing_frequency=billing_frequency
            ),
            kind=LineKind.PURCHASE,
            unit_price=unit_price,
            period_start=today,
            period_end=paid_through_for(start=today, billing_frequency=billing_frequency),
        )
    ]
    # Unused time is credited at the price its period was charged at, not today's list price.
    source_credit = unused_time_line(
        subscription=source,
        quantity=source.quantity,
        today=today,
        description=text(
            "upgrades.line.credit_source", plan=source.product.name, date=source.paid_through
        ),
    )
    if source_credit:
        lines.append(source_credit)
    includes = set(target.includes.values_list("code", flat=True))
    moved, removed = [], []
    for addon in addons:
        if addon.product.code not in includes:
            moved.append(addon.pk)
            continue
        removed.append(addon.pk)
        credit = unused_time_line(
            subscription=addon,
            quantity=addon.quantity,
            today=today,
            description=text(
                "upgrades.line.credit_addon", addon=addon.product.name, plan=target.name
            ),
        )
        if credit:
            lines.append(credit)
    return Quote(
        currency=currency,
        unit_price=unit_price,
        lines=tuple(lines),
        total=lines_total(lines),
        moved_addon_ids=tuple(moved),
        removed_addon_ids=tuple(removed),
        credit_from=today,
        addons_paid_through=tuple((a.pk, a.paid_through.isoformat()) for a in addons),
    )


def quote_as_snapshot(*, quote: Quote, source: Subscription, target: Product, cart) -> dict:
    return {
        "version": SNAPSHOT_VERSION,
        "frozen_at": clock.now().isoformat(),
        "source": {
            "id": source.pk,
            "product": source.product.code,
            "quantity": source.quantity,
            "paid_through": source.paid_through.isoformat(),
        },
        "target": {"code": target.code, "name": target.name},
        "quantity": cart.quantity,
        "billing_frequency": cart.billing_frequency,
        "currency": quote.currency,
        "unit_price": str(quote.unit_price),
        "lines": [line.as_json() for line in quote.lines],
        "total": str(quote.total),
        "moved_addons": list(quote.moved_addon_ids),
        "removed_addons": list(quote.removed_addon_ids),
        "credit_from": quote.credit_from.isoformat(),
        "addons_paid_through": {str(pk): day for pk, day in quote.addons_paid_through},
    }


def window_as_of(scheduled_for: dt.datetime | None) -> dt.date | None:
    """The day an upgrade starting at `scheduled_for` is priced as of: the clock's date (UTC)
    at the window's start, the day the run's provisioning step will see as today."""
    if scheduled_for is None:
        return None
    return scheduled_for.astimezone(dt.UTC).date()


def snapshot_lines(snapshot: dict) -> list[Line]:
    return [Line.from_json(item) for item in snapshot["lines"]]


def snapshot_total(snapshot: dict) -> Decimal:
    return Decimal(snapshot["total"])


def snapshot_credit_from(snapshot: dict) -> dt.date:
    """The day the snapshot credits unused time from (snapshots frozen before it was recorded:
    the day they were frozen)."""
    if snapshot.get("credit_from"):
        return dt.date.fromisoformat(snapshot["credit_from"])
    return dt.datetime.fromisoformat(snapshot["frozen_at"]).date()
