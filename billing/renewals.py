"""Recurring billing. At its paid-through date an Active subscription with recurring billing on
renews for one more term: one invoice per base subscription (its add-ons renew with it), paid
from the credit balance, then by the card on file, or sent as an invoice. A declined renewal
stays unpaid: the tenant is reminded, and once the grace period after the due date is over
the renewal is cancelled by a credit note and the subscription goes Expired.

Idempotent: each term is billed under the subscriptions' row locks after re-reading their
paid-through date, and the one-renewal-per-term constraint on invoice lines refuses a second
charge whatever runs the task (two workers, a task run twice)."""

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse

from portal import clock
from portal.errors import DomainError
from portal.models import Notification
from portal.services import audit_event_record, notification_create
from portal.texts import money_param, text

from . import payments, pricing
from .lifecycle import EXPIRED_DAYS, subscription_transition
from .models import (
    Channel,
    Invoice,
    InvoiceLine,
    LineKind,
    PaymentMethod,
    Status,
    Subscription,
)

log = logging.getLogger(__name__)

# Channels the portal bills itself; partners and volume licensing bill their own customers.
BILLED_CHANNELS = (Channel.DIRECT_CARD, Channel.DIRECT_INVOICE)
# A pass catches up at most this many terms of one subscription (a clock moved far ahead).
MAX_TERMS_PER_PASS = 60


def renews(subscription: Subscription, base: Subscription | None) -> bool:
    """Whether the subscription renews at its paid-through date (rather than expiring):
    recurring billing on, still on sale, not a trial, and, for an add-on, a base that is
    active (add-ons renew with their base)."""
    return (
        subscription.recurring_billing
        and subscription.product.on_sale
        and not subscription.is_trial
        and (base is None or base.status == Status.ACTIVE)
    )


def ends_at_paid_through(subscription: Subscription, base: Subscription | None) -> bool:
    """Whether the subscription goes Expired at its paid-through date: one the portal bills
    that does not renew. (Partners and volume licensing renew their own customers' plans.)"""
    return subscription.channel in BILLED_CHANNELS and not renews(subscription, base)


def _due(subscription: Subscription, base: Subscription | None, today: dt.date) -> bool:
    return (
        subscription.status == Status.ACTIVE
        and subscription.paid_through <= today
        and subscription.channel in BILLED_CHANNELS
        and renews(subscription, base)
    )


def subscriptions_renew() -> dict[str, int]:
    """Periodic: renew every subscription whose paid-through date has come, one term at a time
    until it is paid through a day after today, or a renewal is left unpaid."""
    today = clock.today()
    done = {"renewed": 0, "unpaid": 0}
    rows = Subscription.objects.filter(
        status=Status.ACTIVE,
        recurring_billing=True,
        paid_through__lte=today,
        product__on_sale=True,
        is_trial=False,
        channel__in=BILLED_CHANNELS,
    ).values_list("pk", "parent_id")
    for root_id in sorted({parent_id or pk for pk, parent_id in rows}):
        for _term in range(MAX_TERMS_PER_PASS):
            outcome = _renew_term(root_id=root_id, today=today)
            if outcome is None:
                break
            done[outcome] += 1
            if outcome == "unpaid":
                break
    return done


def _renew_term(*, root_id: int, today: dt.date) -> str | None:
    """Bill the next term of a base subscription and its add-ons that are due; None when
    nothing is due (or a concurrent pass billed it)."""
    try:
        with transaction.atomic():
            group = list(
                Subscription.objects.select_for_update(of=("self",))
                .select_related("product", "tenant")
                .filter(Q(pk=root_id) | Q(parent_id=root_id))
                .order_by("pk")
            )
            base = next((s for s in group if s.pk == root_id), None)
            if base is None:
                return None
            due = [s for s in group if _due(s, None if s is base else base, today)]
            if not due:
                return None
            waiting = InvoiceLine.objects.filter(
                subscription__in=due, kind=LineKind.RENEWAL, invoice__state=Invoice.State.UNPAID
            ).exists()
            if waiting:
                return None  # the previous term is unpaid: no new term until it is settled
            return _bill_term(base=base, due=due)
    except IntegrityError:
        # The one-renewal-per-term constraint: another worker billed this term first.
        log.info("renewal of subscription %s already billed", root_id)
        return None
    except DomainError as error:
        log.warning("renewal of subscription %s not possible: %s", root_id, error)
        return None


def _bill_term(*, base: Subscription, due: list[Subscription]) -> str:
    lines = []
    for subscription in due:
        line = pricing.term_line(
            subscription=subscription,
            start=subscription.paid_through,
            kind=LineKind.RENEWAL,
            description="billing.line.renewed",
        )
        subscription.paid_through = line.period_end
        subscription.term_start = line.period_start
        subscription.term_unit_price = line.unit_price
        subscription.save(update_fields=["paid_through", "term_start", "term_unit_price"])
        lines.append(line)
    tenant = base.tenant
    method = PaymentMethod.INVOICE if base.channel == Channel.DIRECT_INVOICE else PaymentMethod.CARD
    invoice = payments.invoice_create(
        tenant=tenant,
        lines=lines,
        due_days=payments.INVOICE_DUE_DAYS if method == PaymentMethod.INVOICE else 0,
    )
    declined = payments.invoice_settle(invoice=invoice, payment_method=method, keep_declined=True)
    unpaid = invoice.state == Invoice.State.UNPAID
    link = reverse("invoice_detail", args=[tenant.slug, invoice.pk])
    names = ", ".join(s.product.name for s in due)
    params = {
        "products": names,
        "until": lines[0].period_end,
        "number": invoice.number,
        "amount": money_param(invoice.amount_due if unpaid else invoice.total, invoice.currency),
        "due": invoice.due_date,
        "deadline": grace_deadline(invoice),
    }
    if declined:
        message = text("billing.notify.renewal_declined", **params)
    elif unpaid:
        message = text("billing.notify.renewed_due", **params)
    else:
        message = text("billing.notify.renewed_paid", **params)
    notification_create(
        tenant=tenant,
        level=Notification.Level.ERROR if declined else Notification.Level.INFO,
        message=message,
        link=link,
    )
    audit_event_record(
        tenant=tenant,
        actor=None,
        action="subscription.renew",
        target=f"subscription:{base.pk}",
        data={
            "invoice": invoice.number,
            "subscriptions": [s.pk for s in due],
            "paid_through": lines[0].period_end.isoformat(),
            "state": invoice.state,
        },
    )
    return "unpaid" if unpaid else "renewed"


def grace_deadline(invoice: Invoice) -> dt.date:
    """The last day an unpaid renewal can be paid before its subscription expires."""
    return invoice.due_date + dt.timedelta(days=settings.PORTAL_RENEWAL_GRACE_DAYS)


def _unpaid_renewals():
    return Invoice.objects.filter(
        state=Invoice.State.UNPAID, lines__kind=LineKind.RENEWAL
    ).distinct()


def _locked_unpaid(pk: int) -> Invoice | None:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("tenant")
        .filter(pk=pk, state=Invoice.State.UNPAID)
        .first()
    )


def renewals_remind() -> int:
    """Periodic: remind the tenant of an unpaid renewal every few days until it is paid or
    its grace period ends."""
    now = clock.now()
    every = dt.timedelta(days=settings.PORTAL_RENEWAL_REMINDER_DAYS)
    sent = 0
    waiting = _unpaid_renewals().filter(
        Q(reminded_at__isnull=True, issued_at__lte=now - every) | Q(reminded_at__lte=now - every)
    )
    for pk in waiting.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            invoice = _locked_unpaid(pk)
            if invoice is None:
                continue
            last = invoice.reminded_at or invoice.issued_at
            if last > now - every:
                continue
            invoice.reminders_sent += 1
            invoice.reminded_at = now
            invoice.save(update_fields=["reminders_sent", "reminded_at"])
            notification_create(
                tenant=invoice.tenant,
                level=Notification.Level.WARNING,
                message=text(
                    "billing.notify.renewal_reminder",
                    number=invoice.number,
                    amount=money_param(invoice.amount_due, invoice.currency),
                    deadline=grace_deadline(invoice),
                ),
                link=reverse("invoice_detail", args=[invoice.tenant.slug, invoice.pk]),
            )
            sent += 1
    return sent


def renewals_lapse() -> int:
    """Periodic: a renewal still unpaid after its grace period is cancelled by a credit note
    (nothing is owed for a term that was not paid), its subscriptions go back to the paid-
    through date they had and go Expired: users keep access for a while, admins can
    reactivate (which bills a new term)."""
    today = clock.today()
    grace = dt.timedelta(days=settings.PORTAL_RENEWAL_GRACE_DAYS)
    lapsed = 0
    for pk in (
        _unpaid_renewals()
        .filter(due_date__lt=today - grace)
        .order_by("pk")
        .values_list("pk", flat=True)
    ):
        with transaction.atomic():
            renewal_lines = list(InvoiceLine.objects.filter(invoice_id=pk, kind=LineKind.RENEWAL))
            subscriptions = list(
                Subscription.objects.select_for_update(of=("self",))
                .select_related("product")
                .filter(pk__in=[line.subscription_id for line in renewal_lines])
                .order_by("pk")
            )
            invoice = _locked_unpaid(pk)
            if invoice is None:
                continue
            by_pk = {s.pk: s for s in subscriptions}
            payments.invoices_reverse(
                tenant=invoice.tenant,
                invoices=[invoice],
                reason=text("billing.reason.renewal_unpaid"),
                payment_method=PaymentMethod.INVOICE,
            )
            for line in renewal_lines:
                subscription = by_pk.get(line.subscription_id)
                if subscription is None or subscription.paid_through != line.period_end:
                    continue
                # Back to the term before: its start is counted back from paid_through.
                subscription.paid_through = line.period_start
                subscription.term_start = None
                subscription.save(update_fields=["paid_through", "term_start"])
                if subscription.status == Status.ACTIVE:
                    subscription_transition(
                        subscription=subscription, to=Status.EXPIRED, reason="renewal unpaid"
                    )
            notification_create(
                tenant=invoice.tenant,
                level=Notification.Level.ERROR,
                message=text(
                    "billing.notify.renewal_expired",
                    products=", ".join(s.product.name for s in subscriptions),
                    number=invoice.number,
                    count=EXPIRED_DAYS,
                ),
                link=reverse("invoice_detail", args=[invoice.tenant.slug, invoice.pk]),
            )
            audit_event_record(
                tenant=invoice.tenant,
                actor=None,
                action="subscription.renewal_lapse",
                target=f"invoice:{invoice.pk}",
                data={"subscriptions": [s.pk for s in subscriptions]},
            )
            lapsed += 1
    return lapsed
