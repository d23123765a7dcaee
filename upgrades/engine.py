"""The upgrade run's steps: plain Python, testable without Celery.

Each call of run_step does one unit of work (one step, or one batch of license moves) inside
one transaction that holds the run's row lock (SKIP LOCKED: a second worker on the same run
steps aside). All progress lives in the run row and is committed with the work it describes,
so a step that runs twice, or a worker killed mid-step, never has a double effect: the next
call resumes from what the database says. Sleeps (simulated latency) happen between
transactions, never while a lock is held.

Failure of a step (a domain error: a declined card, an add-on the target cannot carry) fails
the run and compensates it: the tenant ends as if the order had not been placed, money
included (see run_fail). Transient errors (the database or the network gone) leave the run
where it was: the task retries with backoff and the reconciler re-sends runs whose heartbeat
stopped. Any other error is a bug: the same one raised PORTAL_UPGRADE_MAX_INTERNAL_ERRORS
times in a row at the same step fails the run with a reason an admin can read, the technical
error kept for support.

What a step decides before it acts (the licenses the order covers, the invoice lines, the
credit check, which add-ons are removed, moved or refused) is computed by upgrades.plan, the
same functions a rehearsal ("Rehearse this upgrade") evaluates without acting.
"""

import datetime as dt
import hashlib
import logging
import time
import traceback
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone

from billing.lifecycle import subscription_restore, subscription_transition
from billing.models import (
    Channel,
    CreditCheck,
    Invoice,
    Order,
    PaymentMethod,
    Status,
    Subscription,
)
from billing.payments import (
    credit_check_open,
    order_bill,
    order_reverse,
)
from billing.services import subscription_create
from licensing.models import LicenseAssignment
from portal import clock
from portal.errors import DomainError
from portal.models import Notification
from portal.services import admin_lock_release, audit_event_record, notification_create
from portal.texts import StoredText, stored, text

from . import plan
from .models import TERMINAL_STATES, RunState, UpgradeRun, UpgradeRunBatch, UpgradeRunToggleUndo
from .quote import snapshot_credit_from
from .transitions import run_transition

log = logging.getLogger(__name__)

# Errors that pass by themselves: the database or the network went away. The run stays where
# it was and is tried again; they never fail a run.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def internal_error_reason() -> StoredText:
    """What an admin reads when a bug, not a rule, stopped the upgrade."""
    return text("upgrades.failure.internal")


# Seconds of simulated latency one batch should take at most, so that progress shows.
BATCH_LATENCY_TARGET = 0.5


class StepOutcome(NamedTuple):
    state: str
    sleep: float = 0.0
    stop: bool = False


def status_url(run: UpgradeRun) -> str:
    return reverse("upgrade_status", args=[run.tenant.slug, run.pk])


def batch_size() -> int:
    size = int(getattr(settings, "PORTAL_UPGRADE_BATCH_SIZE", 5000))
    latency = float(settings.PORTAL_SECONDS_PER_MOVED_USER)
    if latency > 0:
        size = min(size, max(1, int(BATCH_LATENCY_TARGET / latency)))
    return size


# --- Driving -------------------------------------------------------------------------------


def run_advance(*, run_id: int) -> str | None:
    """Take the run as far as it can go now: to a terminal state, to the credit-check wait,
    or until another worker holds it. Returns the state it stopped in (None: not ours).
    Transient errors and the first occurrences of an unexpected one are raised for the caller
    (the task) to retry; an unexpected error that repeats fails the run (FAILED is returned)."""
    while True:
        try:
            outcome = run_step(run_id=run_id)
        except TRANSIENT_ERRORS as exc:
            _error_record(run_id=run_id, error=exc)
            raise
        except Exception as exc:
            if internal_error_record(run_id=run_id, error=exc):
                return RunState.FAILED
            raise
        if outcome is None:
            return None
        if outcome.sleep:
            time.sleep(outcome.sleep)
        if outcome.stop:
            return outcome.state


def run_lock(run_id: int, **conditions) -> UpgradeRun | None:
    """The run's row, locked, if no one else holds it (SKIP LOCKED: a second worker steps
    aside) and it meets `conditions`. Caller owns the transaction."""
    return (
        UpgradeRun.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk=run_id, **conditions)
        .first()
    )


def run_step(*, run_id: int) -> StepOutcome | None:
    with transaction.atomic():
        run = run_lock(run_id)
        if run is None:
            return None
        if run.state in TERMINAL_STATES or run.state in (
            RunState.SCHEDULED,
            RunState.AWAITING_CREDIT_CHECK,
        ):
            return StepOutcome(run.state, stop=True)
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["heartbeat_at"])
        step = run.state
        try:
            with transaction.atomic():
                outcome = STEP_HANDLERS[step](run)
        except DomainError as exc:
            run = UpgradeRun.objects.get(pk=run_id)
            run_fail(run=run, reason=exc.text, step=step)
            return StepOutcome(RunState.FAILED, stop=True)
        if run.error_count:
            UpgradeRun.objects.filter(pk=run_id).update(error_signature="", error_count=0)
        return outcome


def _technical(error: Exception) -> str:
    return "".join(traceback.format_exception(error))[-2000:]


def _error_record(*, run_id: int, error: Exception) -> None:
    """Keep a transient error for support. The connection it broke is replaced first (a
    database that went away and came back must not hide why the run paused)."""
    for _attempt in range(2):
        try:
            UpgradeRun.objects.filter(pk=run_id).update(last_error=_technical(error))
            return
        except TRANSIENT_ERRORS:
            connection.close()
    log.warning("could not record the error of upgrade run %s", run_id, exc_info=error)


def internal_error_record(*, run_id: int, error: Exception) -> bool:
    """Count an unexpected (non-domain, non-transient) error of the run's current step. The
    same error (step and type) PORTAL_UPGRADE_MAX_INTERNAL_ERRORS times in a row fails the
    run, compensated, with a reason an admin can read; the traceback stays in last_error for
    support. The count is committed before the run is failed, so a failure that cannot be
    compensated is still counted (and retried by the reconciler, not in a tight loop). True
    when the run was failed."""
    log.error("upgrade run %s: unexpected error", run_id, exc_info=error)
    try:
        with transaction.atomic():
            run = run_lock(run_id)
            if run is None or run.is_terminal:
                return False
            # The step and the exception's type: messages often carry ids or times that differ
            # between two raises of the same bug.
            signature = hashlib.sha256(
                f"{run.state}|{type(error).__module__}.{type(error).__qualname__}".encode()
            ).hexdigest()
            run.error_count = run.error_count + 1 if signature == run.error_signature else 1
            run.error_signature = signature
            run.last_error = _technical(error)
            run.save(update_fields=["error_count", "error_signature", "last_error"])
        if run.error_count < settings.PORTAL_UPGRADE_MAX_INTERNAL_ERRORS:
            return False
        with transaction.atomic():
            run = run_lock(run_id)
            if run is None or run.is_terminal:
                return False
            run_fail(run=run, reason=internal_error_reason())
            audit_event_record(
                tenant=run.tenant,
                actor=None,
                action="upgrade.internal_error",
                target=f"upgrade_run:{run.pk}",
                reason=f"{type(error).__qualname__}: {error}"[:300],
                data={"step": run.failed_step, "times": run.error_count},
            )
            return True
    except TRANSIENT_ERRORS:
        log.exception("could not record the error of upgrade run %s", run_id)
        return False


# --- Steps ---------------------------------------------------------------------------------


def _step_placed(run: UpgradeRun) -> StepOutcome:
    order = run.order
    check = CreditCheck.objects.filter(order=order).first()
    needed = check is not None or plan.credit_check_needed(
        total=order.total, payment_method=order.payment_method
    )
    if needed and (check is None or check.state == CreditCheck.State.PENDING):
        if check is None:
            check = credit_check_open(order=order)
        run_transition(
            run=run,
            to=RunState.AWAITING_CREDIT_CHECK,
            reason=text("upgrades.reason.credit_check_requested"),
        )
        notification_create(
            tenant=run.tenant,
            level=Notification.Level.WARNING,
            message=text(
                "upgrades.notify.credit_check", target=run.target.name, deadline=check.deadline
            ),
            link=status_url(run),
        )
        return StepOutcome(run.state, stop=True)
    if check is not None and check.state == CreditCheck.State.DECLINED:
        raise DomainError(text("upgrades.failure.credit_declined"), code="credit_declined")
    run_transition(run=run, to=RunState.PROVISIONING)
    run.work_started_at = timezone.now()
    run.save(update_fields=["work_started_at"])
    return StepOutcome(run.state)


def _step_provisioning(run: UpgradeRun) -> StepOutcome:
    order = run.order
    if run.work_started_at is None:  # a support retry starts here
        run.work_started_at = timezone.now()
        run.save(update_fields=["work_started_at"])
    if run.new_subscription_id is None:
        snapshot = order.snapshot
        short = plan.quantity_blocker(
            holders=plan.holders_count(source_id=run.source_id),
            quantity=snapshot["quantity"],
            source_name=run.source.product.name,
        )
        if short is not None:
            raise short.error()
        new = subscription_create(
            tenant=run.tenant,
            product=run.target,
            quantity=snapshot["quantity"],
            billing_frequency=snapshot["billing_frequency"],
            channel=Channel.DIRECT_INVOICE
            if order.payment_method == PaymentMethod.INVOICE
            else Channel.DIRECT_CARD,
            actor=run.placed_by,
            status=Status.PROVISIONING,
            unit_price=Decimal(snapshot["unit_price"]),
        )
        # The plan charge is the first line; it belongs to the subscription just created.
        lines = plan.invoice_lines(snapshot=snapshot, subscription_id=new.pk)
        # A declining card raises here and the savepoint takes the new subscription with it.
        order_bill(order=order, lines=lines)
        Order.objects.filter(pk=order.pk).update(subscription=new)
        run.new_subscription = new
        run.save(update_fields=["new_subscription"])
        return StepOutcome(run.state)
    new = Subscription.objects.select_for_update(of=("self",)).get(pk=run.new_subscription_id)
    if new.status == Status.PROVISIONING:
        wait = (new.ready_at - clock.now()).total_seconds() if new.ready_at else 0
        if wait > 0:
            return StepOutcome(run.state, sleep=min(wait, 1.0))
        subscription_transition(subscription=new, to=Status.ACTIVE, reason="set-up finished")
    elif new.status != Status.ACTIVE:
        raise DomainError(
            text("upgrades.failure.new_inactive", status=Status(new.status).label),
            code="new_subscription_inactive",
        )
    run.total = LicenseAssignment.objects.filter(subscription_id=run.source_id).count()
    run.moved = 0
    run.move_cursor = 0
    run.move_started_at = timezone.now()
    run.save(update_fields=["total", "moved", "move_cursor", "move_started_at"])
    UpgradeRunBatch.objects.filter(run=run).delete()  # a retry's earlier attempt
    run_transition(run=run, to=RunState.MOVING_LICENSES)
    return StepOutcome(run.state)


def _move_batch(*, run: UpgradeRun, limit: int) -> tuple[int, int]:
    """Move the next `limit` licenses of the source (by id, after the run's cursor) onto the
    new subscription. Returns (moved, last id). Per-user service toggles reset to the new
    plan's full set; the ones that had some switched off are kept for an undo.

    The batch is a key range, not a list of ids: its upper id is read from the (subscription,
    id) index, then one UPDATE moves every source license in (cursor, upper]. Each statement
    walks that index over exactly the batch, whatever the table's statistics say, so a batch
    costs the same at the first and the last of a million licenses (docs/PERFORMANCE.md)."""
    rest = LicenseAssignment.objects.filter(
        subscription_id=run.source_id, id__gt=run.move_cursor
    ).order_by("id")
    upper = rest.values_list("id", flat=True)[limit - 1 : limit].first()
    if upper is None:
        upper = rest.reverse().values_list("id", flat=True).first()
        if upper is None:
            return 0, run.move_cursor
    batch = rest.filter(id__lte=upper)
    UpgradeRunToggleUndo.objects.bulk_create(
        [
            UpgradeRunToggleUndo(run=run, assignment_id=pk, disabled_services=toggles)
            for pk, toggles in batch.exclude(disabled_services=[]).values_list(
                "id", "disabled_services"
            )
        ],
        ignore_conflicts=True,
    )
    moved = batch.order_by().update(subscription_id=run.new_subscription_id, disabled_services=[])
    return moved, upper


def _batch_record(*, run: UpgradeRun, after_id: int, last_id: int, moved: int, began) -> None:
    number = UpgradeRunBatch.objects.filter(run=run).count() + 1
    at = timezone.now()
    UpgradeRunBatch.objects.create(
        run=run,
        number=number,
        after_id=after_id,
        last_id=last_id,
        moved=moved,
        at=at,
        seconds=(at - began).total_seconds(),
    )


def _step_moving_licenses(run: UpgradeRun) -> StepOutcome:
    began = timezone.now()
    after = run.move_cursor
    moved, cursor = _move_batch(run=run, limit=batch_size())
    if moved or cursor != run.move_cursor:
        if moved:
            _batch_record(run=run, after_id=after, last_id=cursor, moved=moved, began=began)
        run.moved += moved
        run.total = max(run.total, run.moved)
        run.move_cursor = cursor
        run.save(update_fields=["moved", "total", "move_cursor"])
        return StepOutcome(run.state, sleep=moved * float(settings.PORTAL_SECONDS_PER_MOVED_USER))
    # The cursor reached the end: sweep up anything the keyset passed (none in practice).
    if LicenseAssignment.objects.filter(subscription_id=run.source_id).exists():
        run.move_cursor = 0
        run.save(update_fields=["move_cursor"])
        return StepOutcome(run.state)
    run.move_finished_at = timezone.now()
    run.save(update_fields=["move_finished_at"])
    run_transition(run=run, to=RunState.REMOVING_ADDONS)
    return StepOutcome(run.state)


def _step_removing_addons(run: UpgradeRun) -> StepOutcome:
    """One transaction: included add-ons are cancelled with their user assignments, accepted
    ones re-attached to the new subscription."""
    addons = {
        addon.pk: addon
        for addon in plan.addons_live(source_id=run.source_id).select_for_update(of=("self",))
    }
    effects = plan.addons_classify(
        target=run.target, addons=addons.values(), holders=plan.addon_holders(addon_ids=addons)
    )
    refused = effects.blockers(target=run.target)
    if refused:
        raise refused[0].error()
    paid_until = snapshot_credit_from(run.order.snapshot)
    removed = []
    for effect in effects.removed:
        addon = addons[effect.id]
        holders = LicenseAssignment.objects.filter(subscription=addon)
        removed.append(
            {
                "id": addon.pk,
                "status": addon.status,
                "status_since": addon.status_since.isoformat(),
                "paid_through": addon.paid_through.isoformat(),
                "recurring_billing": addon.recurring_billing,
                "holders": [
                    list(row) for row in holders.values_list("user_id", "disabled_services")
                ],
            }
        )
        holders.delete()
        subscription_transition(
            subscription=addon,
            to=Status.DISABLED,
            reason=text("upgrades.reason.addon_included", target=run.target.name, run=str(run.pk)),
        )
        # Its unused time was credited on the upgrade invoice: it is paid through the day
        # the credit starts, so reactivating it later bills a new period.
        Subscription.objects.filter(pk=addon.pk).update(
            recurring_billing=False, paid_through=min(addon.paid_through, paid_until)
        )
    moved = [effect.id for effect in effects.moved]
    Subscription.objects.filter(pk__in=moved).update(parent_id=run.new_subscription_id)
    run.undo = {"removed_addons": removed, "moved_addons": moved}
    # Kept for the report once undo is emptied (at the end, or by a failure's compensation).
    run.record = effects.as_record()
    run.save(update_fields=["undo", "record"])
    run_transition(run=run, to=RunState.CANCELLING_SOURCE)
    return StepOutcome(run.state)


def _step_cancelling_source(run: UpgradeRun) -> StepOutcome:
    source = Subscription.objects.select_for_update(of=("self",)).get(pk=run.source_id)
    # Nobody can assign the source while the tenant is locked; should a license have
    # appeared anyway, it is moved here so the source is empty before it expires.
    began = timezone.now()
    straggling = LicenseAssignment.objects.filter(subscription=source)
    last = straggling.order_by("-id").values_list("id", flat=True).first()
    stragglers = straggling.update(subscription_id=run.new_subscription_id, disabled_services=[])
    if stragglers:
        # Recorded as one more batch, so that the report lists them too.
        after = UpgradeRunBatch.objects.filter(run=run).order_by("-last_id").first()
        _batch_record(
            run=run,
            after_id=after.last_id if after else 0,
            last_id=last,
            moved=stragglers,
            began=began,
        )
        run.moved += stragglers
        run.total += stragglers
        run.save(update_fields=["moved", "total"])
    if source.status == Status.ACTIVE:
        subscription_transition(
            subscription=source,
            to=Status.EXPIRED,
            actor=run.placed_by,
            reason=text("upgrades.reason.upgraded", target=run.target.name, run=str(run.pk)),
        )
    # The unused paid time was credited on the upgrade invoice: the source is paid through
    # the day the credit starts, so reactivating it later bills a new period instead of
    # reusing refunded time.
    Subscription.objects.filter(pk=source.pk).update(
        recurring_billing=False,
        paid_through=min(source.paid_through, snapshot_credit_from(run.order.snapshot)),
    )
    UpgradeRunToggleUndo.objects.filter(run=run).delete()
    run.undo = {}
    run.save(update_fields=["undo"])
    Order.objects.filter(pk=run.order_id).update(state=Order.State.COMPLETED)
    run.work_finished_at = timezone.now()
    run.save(update_fields=["work_finished_at"])
    run_transition(run=run, to=RunState.COMPLETED)
    admin_lock_release(tenant=run.tenant, holder=run)
    notification_create(
        tenant=run.tenant,
        level=Notification.Level.SUCCESS,
        message=text("upgrades.notify.completed", target=run.target.name, count=run.moved),
        link=status_url(run),
    )
    audit_event_record(
        tenant=run.tenant,
        actor=None,
        action="upgrade.complete",
        target=f"upgrade_run:{run.pk}",
        data={"moved": run.moved, "new_subscription": run.new_subscription_id},
    )
    return StepOutcome(run.state, stop=True)


STEP_HANDLERS = {
    RunState.PLACED: _step_placed,
    RunState.PROVISIONING: _step_provisioning,
    RunState.MOVING_LICENSES: _step_moving_licenses,
    RunState.REMOVING_ADDONS: _step_removing_addons,
    RunState.CANCELLING_SOURCE: _step_cancelling_source,
}


# --- Ending badly --------------------------------------------------------------------------


def run_compensate(run: UpgradeRun) -> tuple[Order, Invoice | None]:
    """Put the tenant back as it was before the order, money included: licenses back on the
    source with the service toggles they had (one statement: at no instant does a user hold
    both or none), add-ons moved to the new plan back on the source, removed add-ons back in
    their former state with their holders and paid-through dates, the new subscription
    cancelled with nothing of it kept, and everything the order billed reversed on a credit
    note (returned; None when nothing was left to reverse). Idempotent: a run failed before
    compensation existed is compensated by its retry. Caller owns the transaction and holds
    the run's row lock; the rest is locked in the documented order (docs/RELIABILITY.md):
    the order, then subscriptions by primary key."""
    order = Order.objects.select_for_update(of=("self",)).get(pk=run.order_id)
    undo = run.undo or {}
    new_id = run.new_subscription_id
    removed = {entry["id"]: entry for entry in undo.get("removed_addons", [])}
    if new_id is not None:
        locked = {
            s.pk: s
            for s in Subscription.objects.select_for_update(of=("self",))
            .filter(Q(pk__in=[run.source_id, new_id, *removed]) | Q(parent_id=new_id))
            .order_by("pk")
        }
        LicenseAssignment.objects.filter(subscription_id=new_id).update(
            subscription_id=run.source_id
        )
        kept = UpgradeRunToggleUndo.objects.filter(run=run)
        LicenseAssignment.objects.filter(
            subscription_id=run.source_id, id__in=kept.values("assignment_id")
        ).update(
            disabled_services=Subquery(
                kept.filter(assignment_id=OuterRef("pk")).values("disabled_services")[:1]
            )
        )
        kept.delete()
        Subscription.objects.filter(parent_id=new_id).update(parent_id=run.source_id)
        for entry in removed.values():
            _addon_give_back(run=run, addon=locked[entry["id"]], entry=entry)
        new = locked[new_id]
        if new.status in (Status.PROVISIONING, Status.ACTIVE):
            subscription_transition(
                subscription=new, to=Status.DISABLED, reason="cancelled: upgrade failed"
            )
        Subscription.objects.filter(pk=new_id).update(
            recurring_billing=False, paid_through=min(new.paid_through, new.created_at.date())
        )
    run.undo = {}
    run.save(update_fields=["undo"])
    note = order_reverse(order=order, reason=text("upgrades.reason.failed"))
    order.state = Order.State.FAILED
    order.save(update_fields=["state"])
    return order, note


def _addon_give_back(*, run: UpgradeRun, addon: Subscription, entry: dict) -> None:
    """Restore an add-on the run removed, unless it changed since (a support engineer may act
    on a locked tenant): then it is left as it is and the audit trail says so."""
    if addon.status != Status.DISABLED or addon.recurring_billing:
        audit_event_record(
            tenant=run.tenant,
            actor=None,
            action="upgrade.addon_not_restored",
            target=f"subscription:{addon.pk}",
            reason=text("upgrades.reason.addon_changed"),
            data={"run": run.pk, "status": addon.status},
        )
        return
    subscription_restore(
        subscription=addon,
        status=entry["status"],
        status_since=dt.datetime.fromisoformat(entry["status_since"]),
        reason="given back: upgrade failed",
    )
    Subscription.objects.filter(pk=addon.pk).update(
        paid_through=dt.date.fromisoformat(entry["paid_through"]),
        recurring_billing=entry["recurring_billing"],
    )
    now = clock.now()
    LicenseAssignment.objects.bulk_create(
        [
            LicenseAssignment(
                tenant_id=run.tenant_id,
                user_id=user_id,
                subscription_id=addon.pk,
                disabled_services=toggles,
                assigned_at=now,
            )
            for user_id, toggles in entry["holders"]
        ],
        ignore_conflicts=True,
    )


def _money_words(note: Invoice | None) -> StoredText:
    if note is None:
        return text("upgrades.money.nothing_charged")
    if note.total < 0:
        return text("upgrades.money.credited_back")
    if note.state == Invoice.State.PAID:
        return text("upgrades.money.credit_taken_back")
    return text("upgrades.money.credit_owed")


def run_fail(
    *, run: UpgradeRun, reason: StoredText | str, step: str | None = None, actor=None
) -> UpgradeRun:
    """Fail an active run and compensate it (see run_compensate). Caller owns the transaction
    and holds the run's row lock."""
    step = step or run.state
    order, note = run_compensate(run)
    run.failed_step = step
    reason = stored(reason)
    run.failure_reason = reason
    run.moved = 0
    run.move_cursor = 0
    run.save(update_fields=["failed_step", "failure_reason", "moved", "move_cursor"])
    run_transition(run=run, to=RunState.FAILED, actor=actor, reason=reason)
    admin_lock_release(tenant=run.tenant, holder=run)
    notification_create(
        tenant=run.tenant,
        level=Notification.Level.ERROR,
        message=text(
            "upgrades.notify.failed",
            target=run.target.name,
            reason=reason,
            money=_money_words(note),
            source=run.source.product.name,
        ),
        link=status_url(run),
    )
    audit_event_record(
        tenant=run.tenant,
        actor=actor,
        action="upgrade.fail",
        target=f"upgrade_run:{run.pk}",
        reason=reason,
        data={
            "step": step,
            "order_total": str(order.total),
            "credit_note": note.number if note else None,
        },
    )
    return run


def run_decline(*, run: UpgradeRun, actor, reason: str) -> UpgradeRun:
    """The credit check was refused: nothing was charged. Caller holds the row lock."""
    run_transition(run=run, to=RunState.DECLINED, actor=actor, reason=reason)
    Order.objects.filter(pk=run.order_id).update(state=Order.State.DECLINED)
    admin_lock_release(tenant=run.tenant, holder=run)
    notification_create(
        tenant=run.tenant,
        level=Notification.Level.ERROR,
        message=text(
            "upgrades.notify.declined", target=run.target.name, source=run.source.product.name
        ),
        link=status_url(run),
    )
    return run


def heartbeat_cutoff() -> dt.datetime:
    return timezone.now() - dt.timedelta(
        seconds=float(getattr(settings, "PORTAL_UPGRADE_STALE_SECONDS", 60))
    )
