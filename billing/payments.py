"""Invoices, simulated card payments and credit checks.

Payments are simulated by design: a card whose token is "tok_decline" is refused, every other
card on file succeeds. Nothing here sleeps or calls out while holding a row lock."""

import datetime as dt
import secrets
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.models import Tenant
from portal.services import admin_lock_enforce, audit_event_record

from .models import CreditCheck, Invoice, InvoiceLine, Order, Payment, PaymentMethod
from .pricing import Line, lines_total, money

DECLINING_CARD = "tok_decline"
INVOICE_DUE_DAYS = 30


class PaymentDeclined(DomainError):
    def __init__(self):
        super().__init__(
            _("The card on file was declined. Update the payment method and try again."),
            code="card_declined",
        )


def invoice_minimum() -> Decimal:
    return money(settings.PORTAL_INVOICE_MINIMUM)


def invoice_allowed(*, total: Decimal, invoice_eligible: bool) -> bool:
    return invoice_eligible and total >= invoice_minimum()


def credit_check_required(*, total: Decimal, payment_method: str) -> bool:
    """Paying by invoice always needs a credit check; so does a large order paid by card."""
    return payment_method == PaymentMethod.INVOICE or total > money(
        settings.PORTAL_CREDIT_CHECK_THRESHOLD
    )


def _next_invoice_number(tenant: Tenant) -> str:
    # Fits the 30-character column for any slug; the random tail keeps two invoices issued
    # at the same moment (concurrent requests) apart.
    count = Invoice.objects.filter(tenant=tenant).count() + 1
    return f"INV-{tenant.slug[:10].upper()}-{count:05d}-{secrets.token_hex(3).upper()}"


def invoice_create(*, tenant: Tenant, lines: list[Line], order: Order | None = None) -> Invoice:
    """Records invoice lines (charges and credits). The caller owns the transaction."""
    now = clock.now()
    invoice = Invoice.objects.create(
        tenant=tenant,
        number=_next_invoice_number(tenant),
        order=order,
        currency=tenant.currency,
        issued_at=now,
        due_date=(now + dt.timedelta(days=INVOICE_DUE_DAYS)).date(),
    )
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                description=line.description,
                quantity=line.quantity,
                amount=line.amount,
                subscription_id=line.subscription_id,
            )
            for line in lines
        ]
    )
    return invoice


def card_charge(*, tenant: Tenant, amount: Decimal, invoice: Invoice | None) -> Payment:
    """Charge the card on file (simulated). Raises PaymentDeclined after recording the refusal.
    Amounts of zero or less (credits) are recorded without touching the card."""
    profile = getattr(tenant, "billing_profile", None)
    if profile is None or not profile.has_card:
        raise DomainError(
            _("There is no card on file. Add a payment method first."), code="no_card"
        )
    declined = profile.card_token == DECLINING_CARD and amount > 0
    payment = Payment.objects.create(
        tenant=tenant,
        invoice=invoice,
        amount=amount,
        currency=tenant.currency,
        method=PaymentMethod.CARD,
        result=Payment.Result.DECLINED if declined else Payment.Result.SUCCEEDED,
        at=clock.now(),
    )
    if declined:
        raise PaymentDeclined()
    if invoice is not None:
        invoice.state = Invoice.State.PAID
        invoice.paid_at = payment.at
        invoice.save(update_fields=["state", "paid_at"])
    return payment


def order_bill(*, order: Order, lines: list[Line]) -> Invoice:
    """Invoice an order's lines and, when paid by card, charge it. A declined card raises
    PaymentDeclined and, because the caller's transaction rolls back, leaves nothing behind
    but the caller's own failure record."""
    return lines_bill(
        tenant=order.tenant, lines=lines, payment_method=order.payment_method, order=order
    )


def lines_bill(
    *, tenant: Tenant, lines: list[Line], payment_method: str, order: Order | None = None
) -> Invoice:
    """Record the lines on a new invoice and settle it: by card (charged now), or by invoice
    (left unpaid, shown with "Pay now"). Credits are refunded to the card, or settle an
    invoice at once when nothing is owed.
    The caller owns the transaction."""
    invoice = invoice_create(tenant=tenant, lines=lines, order=order)
    total = lines_total(lines)
    if payment_method == PaymentMethod.CARD:
        card_charge(tenant=tenant, amount=total, invoice=invoice)
    elif total <= 0:
        invoice.state = Invoice.State.PAID
        invoice.paid_at = clock.now()
        invoice.save(update_fields=["state", "paid_at"])
    return invoice


def order_reverse(*, order: Order, reason: str) -> Invoice | None:
    """Give back everything an order still has billed: one credit note whose lines negate, per
    subscription, what the order's invoices charged and credited, settled the way the order was
    paid. The order's unpaid invoices are cancelled by it (nothing was paid, nothing is owed);
    what was paid is refunded to the card on file or, for an order paid by invoice, by
    transfer. Idempotent: once the order nets to zero there is nothing left to reverse.
    The caller owns the transaction and holds the order's run lock."""
    net: dict[int | None, Decimal] = {}
    described: dict[int | None, list[InvoiceLine]] = {}
    for line in InvoiceLine.objects.filter(invoice__order=order).order_by("pk"):
        net[line.subscription_id] = net.get(line.subscription_id, Decimal("0")) + line.amount
        described.setdefault(line.subscription_id, []).append(line)

    def billed_as(subscription_id) -> str:
        # The latest line billed the way the net still stands (not an earlier reversal).
        sign = net[subscription_id] > 0
        return next(
            line.description
            for line in reversed(described[subscription_id])
            if (line.amount > 0) == sign
        )

    lines = [
        Line(
            description=_("Reversed: %(line)s (%(reason)s)")
            % {"line": billed_as(subscription_id), "reason": reason},
            quantity=1,
            amount=-amount,
            subscription_id=subscription_id,
        )
        for subscription_id, amount in net.items()
        if amount
    ]
    if not lines:
        return None
    unpaid = list(
        Invoice.objects.select_for_update(of=("self",))
        .filter(order=order, state=Invoice.State.UNPAID)
        .order_by("pk")
    )
    owed = sum((invoice.total for invoice in unpaid), Decimal("0.00"))
    note = invoice_create(tenant=order.tenant, lines=lines, order=order)
    now = clock.now()
    Invoice.objects.filter(pk__in=[invoice.pk for invoice in unpaid]).update(
        state=Invoice.State.CREDITED, paid_at=now
    )
    # What the tenant actually paid for this order comes back (a negative payment, a refund).
    # Should the order have paid the tenant out (its credits exceeded its charges), the note is
    # a charge: the card is charged, or the note waits unpaid like any invoice.
    balance = note.total + owed
    if balance > 0:
        if order.payment_method == PaymentMethod.CARD:
            try:
                with transaction.atomic():
                    card_charge(tenant=order.tenant, amount=balance, invoice=note)
            except DomainError:
                pass  # declined, or no card on file: left unpaid, with "Pay now"
        return note
    if balance < 0:
        Payment.objects.create(
            tenant=order.tenant,
            invoice=note,
            amount=balance,
            currency=order.tenant.currency,
            method=order.payment_method,
            result=Payment.Result.SUCCEEDED,
            at=now,
        )
    note.state = Invoice.State.PAID
    note.paid_at = now
    note.save(update_fields=["state", "paid_at"])
    return note


def invoice_pay(*, tenant: Tenant, invoice_id: int, actor) -> Invoice:
    """ "Pay now" on an unpaid invoice with the card on file (simulated)."""
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .filter(tenant=tenant, pk=invoice_id)
            .first()
        )
        if invoice is None:
            raise DomainError(_("That invoice does not exist."), code="not_found")
        admin_lock_enforce(tenant=tenant, actor=actor)
        if invoice.state != Invoice.State.UNPAID:
            return invoice
        amount = invoice.total
    # The card is charged outside the row lock; a second "Pay now" re-checks the state.
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        if invoice.state != Invoice.State.UNPAID:
            return invoice
        try:
            card_charge(tenant=tenant, amount=amount, invoice=invoice)
        except PaymentDeclined:
            transaction.set_rollback(True)
            raise
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="invoice.pay",
            target=f"invoice:{invoice.pk}",
            data={"amount": str(amount)},
        )
    return invoice


def credit_check_open(*, order: Order) -> CreditCheck:
    """Caller owns the transaction. The deadline is two business days on the simulated clock."""
    now = clock.now()
    return CreditCheck.objects.create(
        tenant=order.tenant,
        order=order,
        requested_at=now,
        deadline=clock.add_business_days(now, 2),
    )


# Recorded as the reason when nobody decided a credit check by its deadline.
CREDIT_CHECK_DEFAULT_REASON = "No decision by the deadline: the default applies."


def credit_check_default_approves() -> bool:
    """What an undecided credit check becomes at its deadline (PORTAL_CREDIT_CHECK_DEFAULT)."""
    return settings.PORTAL_CREDIT_CHECK_DEFAULT == "approve"


def credit_check_decide(
    *, credit_check: CreditCheck, approve: bool, actor, reason: str
) -> CreditCheck:
    """Approve or decline a pending check. Caller owns the transaction and the row lock."""
    if credit_check.state != CreditCheck.State.PENDING:
        raise DomainError(_("This credit check has already been decided."), code="decided")
    if not reason.strip():
        raise DomainError(_("Write a reason for the decision."), code="reason_required")
    credit_check.state = CreditCheck.State.APPROVED if approve else CreditCheck.State.DECLINED
    credit_check.decided_at = clock.now()
    credit_check.decided_by = recorded_actor(actor)
    credit_check.reason = reason
    credit_check.save(update_fields=["state", "decided_at", "decided_by", "reason"])
    audit_event_record(
        tenant=credit_check.tenant,
        actor=actor,
        action="credit_check.approve" if approve else "credit_check.decline",
        target=f"order:{credit_check.order_id}",
        reason=reason,
    )
    return credit_check
