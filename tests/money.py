"""The money check of an upgrade order: whatever happened (completed, failed and compensated,
retried), the order's invoices and credit notes add up, per subscription, to exactly the
service periods the tenant keeps, and a card order has nothing left unpaid."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum

from billing.models import CreditEntry, Invoice, InvoiceLine, Payment, PaymentMethod, Subscription
from upgrades.models import RunState, UpgradeRun
from upgrades.quote import snapshot_credit_from


def order_ledger(order) -> dict[int, Decimal]:
    """Net amount the order's invoices billed, per subscription."""
    rows = (
        InvoiceLine.objects.filter(invoice__order=order)
        .values("subscription_id")
        .annotate(net=Sum("amount"))
    )
    return {row["subscription_id"]: row["net"] for row in rows}


def money_check(run: UpgradeRun) -> None:
    run.refresh_from_db()
    order = run.order
    snapshot = order.snapshot
    credit_from = snapshot_credit_from(snapshot)
    ledger = defaultdict(Decimal, order_ledger(order))
    lines = snapshot["lines"]
    charge = Decimal(lines[0]["amount"])
    credits = {line["subscription_id"]: Decimal(line["amount"]) for line in lines[1:]}
    # The plans this order bought: the run's, and those of earlier attempts (cancelled).
    bought = Subscription.objects.filter(
        Q(pk__in=[pk for pk in ledger if pk]) | Q(pk=run.new_subscription_id or 0),
        tenant=run.tenant,
        product=run.target,
        parent__isnull=True,
    )
    assert {pk for pk, amount in ledger.items() if amount} <= {
        *bought.values_list("pk", flat=True),
        *credits,
    }, ("the order billed a service it neither bought nor credited", dict(ledger))
    kept = []
    for new in bought:
        keeps = new.paid_through > new.created_at.date()
        if keeps:
            kept.append(new.pk)
        assert ledger[new.pk] == (charge if keeps else 0), (new, ledger[new.pk], keeps)
    originals = {
        snapshot["source"]["id"]: snapshot["source"]["paid_through"],
        **{entry: None for entry in snapshot["removed_addons"]},
    }
    for pk, credit in credits.items():
        service = Subscription.objects.get(pk=pk)
        shortened = service.paid_through == credit_from
        if run.state == RunState.FAILED:
            assert not shortened or originals.get(pk) == credit_from.isoformat(), service
        assert ledger[pk] == (credit if shortened else 0), (service, ledger[pk], credit)
    if run.state == RunState.COMPLETED:
        assert kept == [run.new_subscription_id], (kept, run.new_subscription_id)
    else:
        assert kept == [], kept
    invoices = Invoice.objects.filter(order=order)
    if run.state == RunState.FAILED and order.total >= 0:
        # Reversed in full: nothing of this order is owed any more.
        assert not invoices.filter(state=Invoice.State.UNPAID).exists()
    if order.payment_method == PaymentMethod.CARD:
        assert not invoices.filter(state=Invoice.State.UNPAID).exists()
        paid = Payment.objects.filter(
            invoice__order=order, result=Payment.Result.SUCCEEDED
        ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
        # Credit the order gave to the balance counts against it, credit it used for it.
        balance = CreditEntry.objects.filter(invoice__order=order).aggregate(total=Sum("amount"))[
            "total"
        ] or Decimal("0")
        assert paid - balance == sum(ledger.values(), Decimal("0")), (paid, balance, dict(ledger))
        assert (
            not Payment.objects.filter(invoice__order=order, amount__lt=0)
            .exclude(invoice__lines__kind="reversal")
            .exists()
        ), "a negative amount reached the card outside a reversal"
