"""Invoices, simulated card payments and credit checks.

Payments are simulated by design: a card whose token is "tok_decline" is refused, every other
card on file succeeds. Nothing here sleeps or calls out while holding a row lock."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.models import Tenant
from portal.services import admin_lock_enforce, audit_event_record
from portal.texts import stored, text

from .models import (
    CreditCheck,
    CreditEntry,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    LineKind,
    Order,
    Payment,
    PaymentMethod,
)
from .pricing import Line, lines_total, money
from .selectors import credit_balance

DECLINING_CARD = "tok_decline"
INVOICE_DUE_DAYS = 30


class PaymentDeclined(DomainError):
    def __init__(self):
        super().__init__(
            text("billing.error.card_declined"),
            code="card_declined",
        )


def invoice_minimum() -> Decimal:
    return money(settings.PORTAL_INVOICE_MINIMUM)


def amount_charged(total: Decimal) -> Decimal:
    """What an order of this total charges: nothing when its credits exceed its charges (the
    excess goes to the credit balance, never to a card)."""
    return max(money(total), Decimal("0.00"))


@dataclass(frozen=True)
class Settlement:
    """How an order of `total` would be settled today: what goes to the credit balance, what
    the balance pays, and what is left to pay by card or invoice."""

    credit_to_account: Decimal
    from_balance: Decimal
    to_pay: Decimal


def settlement_preview(*, tenant: Tenant, total: Decimal) -> Settlement:
    """A read for checkout: the same rules invoice_settle applies when the order is billed."""
    total = money(total)
    if total <= 0:
        return Settlement(-total, Decimal("0.00"), Decimal("0.00"))
    used = min(max(credit_balance(tenant=tenant), Decimal("0.00")), total)
    return Settlement(Decimal("0.00"), used, total - used)


def invoice_allowed(*, total: Decimal, invoice_eligible: bool) -> bool:
    """Paying by invoice: for approved organisations, when what is charged reaches the
    minimum."""
    return invoice_eligible and amount_charged(total) >= invoice_minimum()


def credit_check_required(*, total: Decimal, payment_method: str) -> bool:
    """Paying by invoice always needs a credit check; so does a large charge by card."""
    return payment_method == PaymentMethod.INVOICE or amount_charged(total) > money(
        settings.PORTAL_CREDIT_CHECK_THRESHOLD
    )


def _next_invoice_number() -> str:
    """The next number of the provider's series, taken under the series' row lock in the
    issuing transaction: a rollback gives the number back, so numbers have no gaps. Lock order:
    after subscriptions and invoices, before the tenant's credit balance."""
    series = settings.PORTAL_INVOICE_SERIES
    if not InvoiceSequence.objects.filter(name=series).update(last=F("last") + 1):
        try:
            with transaction.atomic():
                InvoiceSequence.objects.create(name=series, last=0)
        except IntegrityError:
            pass  # another transaction started the series first
        InvoiceSequence.objects.filter(name=series).update(last=F("last") + 1)
    last = InvoiceSequence.objects.values_list("last", flat=True).get(name=series)
    return f"{series}-{last:06d}"


def invoice_create(
    *,
    tenant: Tenant,
    lines: list[Line],
    order: Order | None = None,
    due_days: int = INVOICE_DUE_DAYS,
) -> Invoice:
    """Records invoice lines (charges and credits) under the next number of the series.
    The caller owns the transaction."""
    now = clock.now()
    invoice = Invoice.objects.create(
        tenant=tenant,
        number=_next_invoice_number(),
        order=order,
        currency=tenant.currency,
        issued_at=now,
        due_date=(now + dt.timedelta(days=due_days)).date(),
        # Owed until settled (invoice_settle takes off the credit balance and payments).
        amount_due=max(lines_total(lines), Decimal("0.00")),
    )
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=invoice,
                description=line.description,
                subscription_id=line.subscription_id,
                kind=line.kind,
                quantity=line.quantity,
                unit_price=line.unit_price,
                period_start=line.period_start,
                period_end=line.period_end,
                amount=line.amount,
            )
            for line in lines
        ]
    )
    return invoice


# --- The credit balance: a ledger, locked per tenant -------------------------------------------


def _credit_lock(tenant: Tenant) -> None:
    """Serialise writers of one tenant's credit balance. FOR NO KEY UPDATE, so rows that merely
    reference the tenant (audit events, assignments) are never held up by it. Lock order: the
    last lock a billing write takes."""
    Tenant.objects.select_for_update(no_key=True, of=("self",)).filter(pk=tenant.pk).exists()


def _credit_entry(*, invoice: Invoice, kind: str, amount: Decimal) -> None:
    if amount:
        CreditEntry.objects.create(
            tenant=invoice.tenant,
            kind=kind,
            amount=amount,
            currency=invoice.currency,
            invoice=invoice,
            at=clock.now(),
        )


def _credit_apply(*, invoice: Invoice) -> Decimal:
    """Pay what the invoice owes from the credit balance first; what is still owed."""
    _credit_lock(invoice.tenant)
    used = min(credit_balance(tenant=invoice.tenant), invoice.amount_due)
    if used > 0:
        _credit_entry(invoice=invoice, kind=CreditEntry.Kind.APPLIED, amount=-used)
        invoice.amount_due -= used
        invoice.save(update_fields=["amount_due"])
    return invoice.amount_due


def _mark_paid(invoice: Invoice, *, state: str = Invoice.State.PAID) -> None:
    invoice.state = state
    invoice.amount_due = Decimal("0.00")
    invoice.paid_at = clock.now()
    invoice.save(update_fields=["state", "amount_due", "paid_at"])


def card_charge(*, tenant: Tenant, amount: Decimal, invoice: Invoice | None) -> Payment:
    """Charge the card on file (simulated) and settle the invoice. Raises PaymentDeclined after
    recording the refusal. Only positive amounts reach a card: credits go to the balance."""
    if amount <= 0:
        raise ValueError(f"a card is never charged {amount}")
    profile = getattr(tenant, "billing_profile", None)
    if profile is None or not profile.has_card:
        raise DomainError(text("billing.error.no_card"), code="no_card")
    declined = profile.card_token == DECLINING_CARD
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
        _mark_paid(invoice)
    return payment


def invoice_settle(*, invoice: Invoice, payment_method: str, keep_declined: bool = False):
    """Settle a new invoice: a credit (negative total) goes to the tenant's credit balance;
    a charge is paid from the balance first, then by the card on file, or left unpaid for the
    tenant to pay (by invoice, with "Pay now"). A declined card raises PaymentDeclined, unless
    `keep_declined`: then the invoice stays unpaid (a renewal) and True is returned; so does
    it, returning False, when there is no card on file.
    The caller owns the transaction."""
    total = invoice.total
    if total <= 0:
        _credit_lock(invoice.tenant)
        _credit_entry(invoice=invoice, kind=CreditEntry.Kind.CREDIT, amount=-total)
        _mark_paid(invoice)
        return False
    due = _credit_apply(invoice=invoice)
    if due == 0:
        _mark_paid(invoice)
    elif payment_method == PaymentMethod.CARD:
        if not keep_declined:
            card_charge(tenant=invoice.tenant, amount=due, invoice=invoice)
            return False
        try:
            with transaction.atomic():
                card_charge(tenant=invoice.tenant, amount=due, invoice=invoice)
        except PaymentDeclined:
            _payment_declined_record(invoice=invoice, amount=due)
            return True
        except DomainError:
            pass  # no card on file: it waits, unpaid, with "Pay now"
    return False


def _payment_declined_record(*, invoice: Invoice, amount: Decimal) -> None:
    # The savepoint took the refused attempt with it; keep it on the invoice's record.
    Payment.objects.create(
        tenant=invoice.tenant,
        invoice=invoice,
        amount=amount,
        currency=invoice.currency,
        method=PaymentMethod.CARD,
        result=Payment.Result.DECLINED,
        at=clock.now(),
    )


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
    """Record the lines on a new invoice and settle it (invoice_settle): a charge is paid from
    the credit balance, then by card now or by invoice later; a credit goes to the balance.
    The caller owns the transaction."""
    invoice = invoice_create(tenant=tenant, lines=lines, order=order)
    invoice_settle(invoice=invoice, payment_method=payment_method)
    return invoice


def invoices_reverse(
    *,
    tenant: Tenant,
    invoices: list[Invoice],
    reason: str,
    payment_method: str,
    order: Order | None = None,
) -> Invoice | None:
    """Give back everything `invoices` still bill: one credit note whose lines negate, per
    subscription, what they charged and credited. Unpaid invoices are cancelled by it (nothing
    is owed); what was paid is refunded, by card or transfer; credit they took from the balance
    goes back to it, and credit they gave to it is taken back (what has been used meanwhile is
    charged instead, like any invoice). Idempotent: once they net to zero nothing is left.
    The caller owns the transaction and holds the locks of the subscriptions billed."""
    ids = [invoice.pk for invoice in invoices]
    net: dict[int | None, Decimal] = {}
    described: dict[int | None, list[InvoiceLine]] = {}
    for line in InvoiceLine.objects.filter(invoice_id__in=ids).order_by("pk"):
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
            description=text(
                "billing.line.reversed", line=billed_as(subscription_id), reason=stored(reason)
            ),
            quantity=1,
            amount=-amount,
            subscription_id=subscription_id,
            kind=LineKind.REVERSAL,
        )
        for subscription_id, amount in net.items()
        if amount
    ]
    if not lines:
        return None
    unpaid = list(
        Invoice.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, state=Invoice.State.UNPAID)
        .order_by("pk")
    )
    paid = Payment.objects.filter(invoice_id__in=ids, result=Payment.Result.SUCCEEDED).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0")
    note = invoice_create(tenant=tenant, lines=lines, order=order)
    for invoice in unpaid:
        _mark_paid(invoice, state=Invoice.State.CREDITED)
    # The balance: what they took from it comes back, what they gave is taken back as far as
    # it is still there; the rest of what they gave is owed again.
    _credit_lock(tenant)
    ledger = CreditEntry.objects.filter(invoice_id__in=ids).aggregate(total=Sum("amount"))[
        "total"
    ] or Decimal("0")
    shortfall = Decimal("0.00")
    if ledger < 0:
        _credit_entry(invoice=note, kind=CreditEntry.Kind.REVERSED, amount=-ledger)
    elif ledger > 0:
        taken = min(ledger, max(credit_balance(tenant=tenant), Decimal("0")))
        _credit_entry(invoice=note, kind=CreditEntry.Kind.REVERSED, amount=-taken)
        shortfall = ledger - taken
    cash = shortfall - paid
    if cash < 0:
        Payment.objects.create(
            tenant=tenant,
            invoice=note,
            amount=cash,
            currency=tenant.currency,
            method=payment_method,
            result=Payment.Result.SUCCEEDED,
            at=clock.now(),
        )
    if cash <= 0:
        _mark_paid(note)
        return note
    note.amount_due = cash
    note.save(update_fields=["amount_due"])
    if payment_method == PaymentMethod.CARD:
        try:
            with transaction.atomic():
                card_charge(tenant=tenant, amount=cash, invoice=note)
        except DomainError:
            pass  # declined, or no card on file: left unpaid, with "Pay now"
    return note


def order_reverse(*, order: Order, reason: str) -> Invoice | None:
    """Give back everything an order still has billed (invoices_reverse over its invoices),
    settled the way the order was paid. The caller owns the transaction and holds the order's
    run lock."""
    return invoices_reverse(
        tenant=order.tenant,
        invoices=list(Invoice.objects.filter(order=order)),
        reason=reason,
        payment_method=order.payment_method,
        order=order,
    )


def invoice_pay(*, tenant: Tenant, invoice_id: int, actor) -> Invoice:
    """ "Pay now" on an unpaid invoice: from the credit balance first, then with the card on
    file (simulated). A declined card is recorded on the invoice and raises PaymentDeclined."""
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
        due = _credit_apply(invoice=invoice)
        declined = False
        if due == 0:
            _mark_paid(invoice)
        else:
            try:
                with transaction.atomic():
                    card_charge(tenant=tenant, amount=due, invoice=invoice)
            except PaymentDeclined:
                _payment_declined_record(invoice=invoice, amount=due)
                declined = True
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="invoice.pay_declined" if declined else "invoice.pay",
            target=f"invoice:{invoice.pk}",
            data={"amount": str(due)},
        )
    if declined:
        raise PaymentDeclined()
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
CREDIT_CHECK_DEFAULT_REASON = "billing.reason.credit_check_default"  # a message key


def credit_check_default_approves() -> bool:
    """What an undecided credit check becomes at its deadline (PORTAL_CREDIT_CHECK_DEFAULT)."""
    return settings.PORTAL_CREDIT_CHECK_DEFAULT == "approve"


def credit_check_decide(
    *, credit_check: CreditCheck, approve: bool, actor, reason: str
) -> CreditCheck:
    """Approve or decline a pending check. Caller owns the transaction and the row lock."""
    if credit_check.state != CreditCheck.State.PENDING:
        raise DomainError(_("This credit check has already been decided."), code="decided")
    if not str(reason).strip():
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
