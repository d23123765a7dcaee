"""The upgrade run's steps: plain Python, testable without Celery.

Each call of run_step does one unit of work (one step, or one batch of license moves) inside
one transaction that holds the run's row lock (SKIP LOCKED: a second worker on the same run
steps aside). All progress lives in the run row and is committed with the work it describes,
so a step that runs twice, or a worker killed mid-step, never has a double effect: the next
call resumes from what the database says. Sleeps (simulated latency) happen between
transactions, never while a lock is held.

Failure of a step (a domain error: a declined card, an add-on the target cannot carry) fails
the run: users who were already moved go back to the source in one statement, moved add-ons
are re-attached to it, the order is marked failed, the lock released and the reason recorded.
Other exceptions (database gone, worker killed) leave the run where it was for the reconciler.
"""

import datetime as dt
import logging
import time
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.lifecycle import subscription_transition
from billing.models import Channel, CreditCheck, Order, PaymentMethod, Status, Subscription
from billing.payments import credit_check_open, credit_check_required, order_bill
from billing.pricing import Line
from billing.services import subscription_create
from licensing.models import LicenseAssignment
from portal import clock
from portal.errors import DomainError
from portal.models import Notification
from portal.services import admin_lock_release, audit_event_record, notification_create

from .models import TERMINAL_STATES, RunState, UpgradeRun
from .quote import snapshot_lines
from .transitions import run_transition

log = logging.getLogger(__name__)

# Failures at these steps move users who were already moved back to the source. Add-ons are
# removed and the source cancelled only after every user is on the new plan, and
# cancelling_source cannot fail on a business rule, so "users stay on E4" holds.
COMPENSATED_STEPS = frozenset({RunState.MOVING_LICENSES, RunState.REMOVING_ADDONS})
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
    or until another worker holds it. Returns the state it stopped in (None: not ours)."""
    while True:
        try:
            outcome = run_step(run_id=run_id)
        except Exception as exc:
            _error_record(run_id=run_id, error=exc)
            raise
        if outcome is None:
            return None
        if outcome.sleep:
            time.sleep(outcome.sleep)
        if outcome.stop:
            return outcome.state


def run_step(*, run_id: int) -> StepOutcome | None:
    with transaction.atomic():
        run = UpgradeRun.objects.select_for_update(skip_locked=True).filter(pk=run_id).first()
        if run is None:
            return None
        if run.state in TERMINAL_STATES or run.state == RunState.AWAITING_CREDIT_CHECK:
            return StepOutcome(run.state, stop=True)
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["heartbeat_at"])
        step = run.state
        try:
            with transaction.atomic():
                return STEP_HANDLERS[step](run)
        except DomainError as exc:
            run = UpgradeRun.objects.get(pk=run_id)
            run_fail(run=run, reason=exc.message, step=step)
            return StepOutcome(RunState.FAILED, stop=True)


def _error_record(*, run_id: int, error: Exception) -> None:
    try:
        UpgradeRun.objects.filter(pk=run_id).update(last_error=repr(error)[:2000])
    except Exception:  # the database may be what failed; the reconciler will retry anyway
        log.exception("could not record the error of upgrade run %s", run_id)


# --- Steps ---------------------------------------------------------------------------------


def _step_placed(run: UpgradeRun) -> StepOutcome:
    order = run.order
    check = CreditCheck.objects.filter(order=order).first()
    needed = check is not None or credit_check_required(
        total=order.total, payment_method=order.payment_method
    )
    if needed and (check is None or check.state == CreditCheck.State.PENDING):
        if check is None:
            check = credit_check_open(order=order)
        run_transition(run=run, to=RunState.AWAITING_CREDIT_CHECK, reason="credit check requested")
        notification_create(
            tenant=run.tenant,
            level=Notification.Level.WARNING,
            message=_(
                "Your upgrade to %(target)s is waiting for a credit check (decided by "
                "%(deadline)s at the latest)."
            )
            % {"target": run.target.name, "deadline": f"{check.deadline:%Y-%m-%d}"},
            link=status_url(run),
        )
        return StepOutcome(run.state, stop=True)
    if check is not None and check.state == CreditCheck.State.DECLINED:
        raise DomainError(_("The credit check was declined."), code="credit_declined")
    run_transition(run=run, to=RunState.PROVISIONING)
    return StepOutcome(run.state)


def _step_provisioning(run: UpgradeRun) -> StepOutcome:
    order = run.order
    if run.new_subscription_id is None:
        snapshot = order.snapshot
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
        )
        lines = snapshot_lines(snapshot)
        # The plan charge is the first line; it belongs to the subscription just created.
        lines[0] = Line(lines[0].description, lines[0].quantity, lines[0].amount, new.pk)
        # A declining card raises here and the savepoint takes the new subscription with it.
        order_bill(order=order, lines=lines)
        Order.objects.filter(pk=order.pk).update(subscription=new)
        run.new_subscription = new
        run.save(update_fields=["new_subscription"])
        return StepOutcome(run.state)
    new = Subscription.objects.select_for_update().get(pk=run.new_subscription_id)
    if new.status == Status.PROVISIONING:
        wait = (new.ready_at - clock.now()).total_seconds() if new.ready_at else 0
        if wait > 0:
            return StepOutcome(run.state, sleep=min(wait, 1.0))
        subscription_transition(subscription=new, to=Status.ACTIVE, reason="set-up finished")
    elif new.status != Status.ACTIVE:
        raise DomainError(
            _("The new subscription is %(status)s instead of active.")
            % {"status": Status(new.status).label},
            code="new_subscription_inactive",
        )
    run.total = LicenseAssignment.objects.filter(subscription_id=run.source_id).count()
    run.moved = 0
    run.move_cursor = 0
    run.save(update_fields=["total", "moved", "move_cursor"])
    run_transition(run=run, to=RunState.MOVING_LICENSES)
    return StepOutcome(run.state)


def _move_batch(*, source_id: int, target_id: int, after: int, limit: int) -> tuple[int, int]:
    """Move the next `limit` licenses of the source (by id, after `after`) onto the target in
    one UPDATE. Returns (moved, last id). Per-user service toggles reset to the full set."""
    ids = list(
        LicenseAssignment.objects.filter(subscription_id=source_id, id__gt=after)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    if not ids:
        return 0, after
    moved = LicenseAssignment.objects.filter(id__in=ids, subscription_id=source_id).update(
        subscription_id=target_id, disabled_services=[]
    )
    return moved, ids[-1]


def _step_moving_licenses(run: UpgradeRun) -> StepOutcome:
    size = batch_size()
    moved, cursor = _move_batch(
        source_id=run.source_id,
        target_id=run.new_subscription_id,
        after=run.move_cursor,
        limit=size,
    )
    if moved or cursor != run.move_cursor:
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
    run_transition(run=run, to=RunState.REMOVING_ADDONS)
    return StepOutcome(run.state)


def _step_removing_addons(run: UpgradeRun) -> StepOutcome:
    """One transaction: included add-ons are cancelled with their user assignments, accepted
    ones re-attached to the new subscription."""
    includes = set(run.target.includes.values_list("code", flat=True))
    accepts = set(run.target.accepts.values_list("code", flat=True))
    addons = list(
        Subscription.objects.select_for_update()
        .filter(parent_id=run.source_id)
        .exclude(status__in=[Status.DISABLED, Status.DELETED])
        .select_related("product")
        .order_by("pk")
    )
    for addon in addons:
        code = addon.product.code
        if code not in includes and code not in accepts:
            raise DomainError(
                _("%(target)s cannot carry the add-on %(addon)s.")
                % {"target": run.target.name, "addon": addon.product.name},
                code="addon_not_carried",
            )
    for addon in addons:
        if addon.product.code in includes:
            LicenseAssignment.objects.filter(subscription=addon).delete()
            subscription_transition(
                subscription=addon,
                to=Status.DISABLED,
                reason=f"included in {run.target.name} (upgrade {run.pk})",
            )
            Subscription.objects.filter(pk=addon.pk).update(recurring_billing=False)
        else:
            Subscription.objects.filter(pk=addon.pk).update(parent_id=run.new_subscription_id)
    run_transition(run=run, to=RunState.CANCELLING_SOURCE)
    return StepOutcome(run.state)


def _step_cancelling_source(run: UpgradeRun) -> StepOutcome:
    source = Subscription.objects.select_for_update().get(pk=run.source_id)
    # Nobody can assign the source while the tenant is locked; should a license have
    # appeared anyway, it is moved here so the source is empty before it expires.
    stragglers = LicenseAssignment.objects.filter(subscription=source).update(
        subscription_id=run.new_subscription_id, disabled_services=[]
    )
    if stragglers:
        run.moved += stragglers
        run.total += stragglers
        run.save(update_fields=["moved", "total"])
    if source.status == Status.ACTIVE:
        subscription_transition(
            subscription=source,
            to=Status.EXPIRED,
            actor=run.placed_by,
            reason=f"upgraded to {run.target.name} (upgrade {run.pk})",
        )
    # The unused paid time was credited on the upgrade invoice: the source is paid through
    # today, so reactivating it later bills a new period instead of reusing refunded time.
    Subscription.objects.filter(pk=source.pk).update(
        recurring_billing=False, paid_through=min(source.paid_through, clock.today())
    )
    Order.objects.filter(pk=run.order_id).update(state=Order.State.COMPLETED)
    run_transition(run=run, to=RunState.COMPLETED)
    admin_lock_release(tenant=run.tenant, holder=run)
    notification_create(
        tenant=run.tenant,
        level=Notification.Level.SUCCESS,
        message=_("Your upgrade to %(target)s is complete: %(count)s users moved.")
        % {"target": run.target.name, "count": run.moved},
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


def _move_back(run: UpgradeRun) -> int:
    """Undo the license move in one statement: at no instant does a user hold both or none."""
    if run.new_subscription_id is None:
        return 0
    moved_back = LicenseAssignment.objects.filter(subscription_id=run.new_subscription_id).update(
        subscription_id=run.source_id
    )
    Subscription.objects.filter(
        parent_id=run.new_subscription_id, pk__in=run.order.snapshot.get("moved_addons", [])
    ).update(parent_id=run.source_id)
    return moved_back


def run_fail(*, run: UpgradeRun, reason: str, step: str | None = None, actor=None) -> UpgradeRun:
    """Fail an active run. Caller owns the transaction and holds the run's row lock."""
    step = step or run.state
    if step in COMPENSATED_STEPS:
        _move_back(run)
    run.failed_step = step
    run.failure_reason = str(reason)
    run.moved = 0
    run.move_cursor = 0
    run.save(update_fields=["failed_step", "failure_reason", "moved", "move_cursor"])
    run_transition(run=run, to=RunState.FAILED, actor=actor, reason=str(reason))
    Order.objects.filter(pk=run.order_id).update(state=Order.State.FAILED)
    admin_lock_release(tenant=run.tenant, holder=run)
    notification_create(
        tenant=run.tenant,
        level=Notification.Level.ERROR,
        message=_("Your upgrade to %(target)s failed: %(reason)s Your users stay on %(source)s.")
        % {"target": run.target.name, "reason": reason, "source": run.source.product.name},
        link=status_url(run),
    )
    audit_event_record(
        tenant=run.tenant,
        actor=actor,
        action="upgrade.fail",
        target=f"upgrade_run:{run.pk}",
        reason=str(reason),
        data={"step": step},
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
        message=_(
            "The credit check for your upgrade to %(target)s was declined. Nothing was "
            "charged; your users stay on %(source)s."
        )
        % {"target": run.target.name, "source": run.source.product.name},
        link=status_url(run),
    )
    return run


def heartbeat_cutoff() -> dt.datetime:
    return timezone.now() - dt.timedelta(
        seconds=float(getattr(settings, "PORTAL_UPGRADE_STALE_SECONDS", 60))
    )
