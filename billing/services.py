import calendar
import datetime as dt

from django.conf import settings
from django.db import transaction

from portal import clock
from portal.models import Tenant
from portal.services import audit_event_record

from .lifecycle import subscription_transition
from .models import BillingFrequency, Product, Status, Subscription, SubscriptionStatusChange


def add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def paid_through_for(*, start: dt.date, billing_frequency: str) -> dt.date:
    months = 12 if billing_frequency == BillingFrequency.YEARLY else 1
    return add_months(start, months)


def subscription_create(
    *,
    tenant: Tenant,
    product: Product,
    quantity: int,
    billing_frequency: str,
    channel: str,
    parent: Subscription | None = None,
    actor=None,
    status: str = Status.PROVISIONING,
    is_trial: bool = False,
    is_prepaid: bool = False,
    offer: str = "commercial",
    recurring_billing: bool = True,
    paid_through: dt.date | None = None,
) -> Subscription:
    """A new subscription. It starts in Provisioning and becomes Active after the simulated
    set-up delay (subscriptions_advance, or the first read after ready_at)."""
    now = clock.now()
    with transaction.atomic():
        subscription = Subscription.objects.create(
            tenant=tenant,
            product=product,
            parent=parent,
            is_addon=product.is_addon,
            quantity=quantity,
            billing_frequency=billing_frequency,
            channel=channel,
            is_trial=is_trial,
            is_prepaid=is_prepaid,
            offer=offer,
            recurring_billing=recurring_billing,
            status=status,
            status_since=now,
            paid_through=paid_through
            or paid_through_for(start=now.date(), billing_frequency=billing_frequency),
            ready_at=now + dt.timedelta(seconds=settings.PORTAL_PROVISIONING_DELAY_SECONDS),
            created_at=now,
        )
        SubscriptionStatusChange.objects.create(
            subscription=subscription,
            from_status="",
            to_status=status,
            at=now,
            actor=actor if actor is not None and actor.is_authenticated else None,
            reason="created",
        )
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="subscription.create",
            target=f"subscription:{subscription.pk}",
            data={"product": product.code, "quantity": quantity},
        )
    return subscription


def subscriptions_advance() -> dict[str, int]:
    """The periodic lifecycle step: Provisioning -> Active once set up, Expired -> Disabled
    after 30 days, Disabled -> Deleted after 90. Each row is moved under its own lock so a
    concurrent admin action is never overwritten."""
    from .lifecycle import NEXT_STATE_AFTER

    now = clock.now()
    moved = {"activated": 0, "disabled": 0, "deleted": 0}
    due = list(
        Subscription.objects.filter(status=Status.PROVISIONING, ready_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    for status, (delay, _to) in NEXT_STATE_AFTER.items():
        due += list(
            Subscription.objects.filter(status=status, status_since__lte=now - delay).values_list(
                "pk", flat=True
            )
        )
    for pk in sorted(due):
        with transaction.atomic():
            subscription = Subscription.objects.select_for_update().get(pk=pk)
            if subscription.status == Status.PROVISIONING:
                if subscription.ready_at and subscription.ready_at <= now:
                    subscription_transition(
                        subscription=subscription,
                        to=Status.ACTIVE,
                        reason="set-up finished",
                        at=now,
                    )
                    moved["activated"] += 1
                continue
            step = NEXT_STATE_AFTER.get(subscription.status)
            if step and subscription.status_since <= now - step[0]:
                subscription_transition(
                    subscription=subscription, to=step[1], reason="lifecycle", at=now
                )
                moved["disabled" if step[1] == Status.DISABLED else "deleted"] += 1
    return moved
