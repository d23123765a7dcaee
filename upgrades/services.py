"""Every write of the upgrades app: the cart, checkout, placing the order, credit-check
decisions, retries and the reconciler. Each service owns its transaction and enqueues work
with transaction.on_commit, so a worker never sees a run that is not committed."""

import datetime as dt
import logging
import traceback

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import CreditCheck, Order, PaymentMethod, Subscription
from billing.orders import order_fingerprint, order_get_or_create
from billing.payments import (
    CREDIT_CHECK_DEFAULT_REASON,
    credit_check_decide,
    credit_check_default_approves,
    credit_check_required,
    invoice_allowed,
)
from billing.selectors import subscription_assigned_count
from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.models import Notification
from portal.roles import Cap, is_support
from portal.selectors import tenant_access_get
from portal.services import (
    admin_lock_acquire,
    admin_lock_enforce,
    audit_event_record,
    notification_create,
)
from portal.texts import text, zoned_param

from . import engine, plan, selectors
from .checkout import (  # noqa: F401 (re-exported: the cart and checkout services)
    MAX_QUANTITY,
    cart_quote,
    payment_credit_check_required,
    payment_invoice_allowed,
    quantity_check,
    snapshot_source_changed,
    snapshot_stale,
    target_option_or_error,
    upgrade_cart_create,
    upgrade_cart_update,
    upgrade_checkout_open,
    upgrade_checkout_update,
    upgrade_checkout_window_set,
    window_check,
    window_words,
    window_zone,
)
from .estimate import duration_estimate
from .models import RunState, UpgradeCart, UpgradeRun
from .quote import (
    quote_as_snapshot,
    quote_build,
    snapshot_credit_from,
    snapshot_total,
    window_as_of,
)
from .transitions import run_transition

# The task that advances a run (defined in tasks.py, which sits above this module): sent by
# name so that services need not import the Celery task module.
RUN_ADVANCE_TASK = "upgrades.tasks.upgrade_run_advance"


log = logging.getLogger(__name__)

# How long Place order waits for the broker before leaving the run to the reconciler.
SEND_TIMEOUT_SECONDS = 1
# A heartbeat this old makes the next reconciler pass re-send the run at once.
_RESEND_NOW = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def run_advance_send(run_id: int) -> None:
    """Send the run to a worker. No result is stored and nothing is retried here: with the
    broker down the request must still answer at once, so a failed send is logged and the run
    marked for the reconciler, which re-sends it once the broker is back."""
    options = {
        **current_app.conf.broker_transport_options,
        "max_retries": 0,
        "socket_connect_timeout": SEND_TIMEOUT_SECONDS,
        "socket_timeout": SEND_TIMEOUT_SECONDS,
    }
    try:
        with current_app.connection_for_write(
            connect_timeout=SEND_TIMEOUT_SECONDS, transport_options=options
        ) as connection:
            current_app.send_task(
                RUN_ADVANCE_TASK,
                args=[run_id],
                ignore_result=True,
                retry=False,
                connection=connection,
            )
    except Exception:
        log.exception("could not send upgrade run %s to a worker; the reconciler will", run_id)
        UpgradeRun.objects.filter(pk=run_id).update(heartbeat_at=_RESEND_NOW)


def _enqueue(run_id: int) -> None:
    # robust: a send that fails after the commit must not turn a placed order into an error.
    transaction.on_commit(lambda: run_advance_send(run_id), robust=True)


def _access_for(*, tenant, actor):
    try:
        return tenant_access_get(user=actor, slug=tenant.slug)
    except Http404:
        raise DomainError(_("You have no access to this organisation."), code="no_access") from None


# --- Place order ---------------------------------------------------------------------------


def _order_payload(cart: UpgradeCart) -> dict:
    return {
        **cart.snapshot,
        "payment_method": cart.payment_method,
        "po_number": cart.po_number,
        "sold_to": cart.sold_to,
        "billed_to": cart.billed_to,
        "credit_check_required": payment_credit_check_required(cart=cart),
    }


def upgrade_place(*, tenant, actor, cart, idempotency_key: str) -> UpgradeRun:
    """Place the upgrade order of a cart. Idempotent: a replay of the key, or a second Place
    order of the same cart, returns the first run; concurrent submits wait on the cart's row
    lock and then find it. Locks the tenant's admins out and queues the run on commit; a cart
    with a maintenance window makes a scheduled run instead: nothing charged, locked or
    queued until the reconciler starts it at the window (the one-active-run constraint holds
    it all the same)."""
    cart_id = cart.pk if isinstance(cart, UpgradeCart) else int(cart)
    replay = UpgradeRun.objects.filter(
        tenant=tenant, order__idempotency_key=idempotency_key
    ).first()
    if replay is not None:
        return replay
    access = _access_for(tenant=tenant, actor=actor)
    with transaction.atomic():
        cart = (
            UpgradeCart.objects.select_for_update(of=("self",))
            .select_related("source__product", "source__tenant", "target", "tenant")
            .filter(tenant=tenant, pk=cart_id)
            .first()
        )
        if cart is None:
            raise DomainError(_("That cart does not exist."), code="not_found")
        if cart.order_id:
            return UpgradeRun.objects.get(order_id=cart.order_id)
        # The source and its add-ons next, by pk (every license and subscription writer takes
        # them): a write that began before this order commits before it (and the snapshot
        # check below sees it), one that begins after it sees the lock.
        list(
            Subscription.objects.select_for_update(of=("self",))
            .filter(Q(pk=cart.source_id) | Q(parent_id=cart.source_id))
            .order_by("pk")
        )
        admin_lock_enforce(tenant=tenant, actor=actor)
        if not cart.snapshot or idempotency_key != cart.checkout_token:
            raise DomainError(
                _("The checkout changed since this page was opened. Review it and try again."),
                code="checkout_changed",
            )
        if snapshot_stale(cart):
            raise DomainError(
                _("The prices were refreshed. Review the order and place it again."),
                code="snapshot_stale",
            )
        target_option_or_error(access=access, source=cart.source, target_code=cart.target.code)
        quantity_check(cart=cart, quantity=cart.quantity)
        if cart.payment_method == PaymentMethod.INVOICE and not payment_invoice_allowed(cart=cart):
            raise DomainError(
                _("This order cannot be paid by invoice."), code="invoice_not_allowed"
            )
        if cart.scheduled_for is not None:
            window_check(
                scheduled_for=cart.scheduled_for,
                now=clock.now(),
                time_zone=tenant.time_zone,
                source=cart.source,
            )
        payload = _order_payload(cart)
        order, _created = order_get_or_create(
            tenant=tenant,
            kind=Order.Kind.UPGRADE,
            idempotency_key=idempotency_key,
            fingerprint=order_fingerprint(payload),
            defaults={
                "currency": payload["currency"],
                "total": snapshot_total(payload),
                "payment_method": cart.payment_method,
                "po_number": cart.po_number,
                "snapshot": payload,
            },
            actor=actor,
        )
        now = clock.now()
        scheduled = cart.scheduled_for is not None
        first_state = RunState.SCHEDULED if scheduled else RunState.PLACED
        try:
            with transaction.atomic():
                run = UpgradeRun.objects.create(
                    tenant=tenant,
                    source=cart.source,
                    target=cart.target,
                    order=order,
                    state=first_state,
                    scheduled_for=cart.scheduled_for,
                    placed_by=recorded_actor(actor),
                    placed_at=now,
                    heartbeat_at=timezone.now(),
                    step_times={first_state: now.isoformat()},
                    estimate=duration_estimate(
                        users=subscription_assigned_count(subscription=cart.source)
                    ).as_json(),
                )
                if not scheduled:
                    admin_lock_acquire(
                        tenant=tenant,
                        holder=run,
                        reason=text("upgrades.reason.in_progress"),
                        status_url=engine.status_url(run),
                    )
        except IntegrityError:
            raise DomainError(
                _("Another upgrade on this organisation is already running."),
                code="upgrade_in_progress",
            ) from None
        run.events.create(from_state="", to_state=first_state, at=now, actor=recorded_actor(actor))
        cart.order = order
        cart.save(update_fields=["order"])
        data = {
            "order": order.pk,
            "source": cart.source_id,
            "target": cart.target.code,
            "quantity": cart.quantity,
            "total": str(order.total),
        }
        if scheduled:
            data["scheduled_for"] = cart.scheduled_for.isoformat()
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="upgrade.place",
            target=f"upgrade_run:{run.pk}",
            data=data,
        )
        if not scheduled:
            _enqueue(run.pk)
    return run


# --- Scheduled runs: cancel, move, start at the window --------------------------------------


def _scheduled_run_locked(*, tenant, actor, run_id: int) -> UpgradeRun:
    """The tenant's run, row-locked, if the actor may change it and it has not started.
    Caller owns the transaction."""
    access = _access_for(tenant=tenant, actor=actor)
    if not access.can(Cap.PURCHASE):
        raise DomainError(
            _("Only Global and Billing admins can change a scheduled upgrade."),
            code="forbidden",
        )
    run = (
        UpgradeRun.objects.select_for_update(of=("self",))
        .select_related("tenant", "source__product", "target")
        .filter(tenant=tenant, pk=run_id)
        .first()
    )
    if run is None:
        raise DomainError(_("That upgrade does not exist."), code="not_found")
    admin_lock_enforce(tenant=tenant, actor=actor)
    if run.state != RunState.SCHEDULED:
        if run.is_terminal:
            message = _("This upgrade is no longer scheduled: it is %(state)s.") % {
                "state": RunState(run.state).label
            }
        else:
            message = _("This upgrade has already started: it can no longer be cancelled or moved.")
        raise DomainError(message, code="run_not_scheduled")
    return run


def upgrade_run_cancel(*, tenant, actor, run_id: int, reason: str = "") -> UpgradeRun:
    """Cancel a scheduled upgrade before its window starts: the run and its order end
    cancelled. Nothing was charged and no lock was taken, so nothing is given back."""
    with transaction.atomic():
        run = _scheduled_run_locked(tenant=tenant, actor=actor, run_id=run_id)
        run_transition(run=run, to=RunState.CANCELLED, actor=actor, reason=reason)
        Order.objects.filter(pk=run.order_id).update(state=Order.State.CANCELLED)
        when = zoned_param(run.scheduled_for, tenant.time_zone)
        notification_create(
            tenant=tenant,
            level=Notification.Level.INFO,
            message=text(
                "upgrades.notify.cancelled",
                target=run.target.name,
                when=when,
                source=run.source.product.name,
            ),
            link=engine.status_url(run),
        )
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="upgrade.cancel",
            target=f"upgrade_run:{run.pk}",
            reason=reason,
            data={"order": run.order_id, "scheduled_for": run.scheduled_for.isoformat()},
        )
    return run


def _order_repriced(*, order: Order, source: Subscription, target, as_of) -> dict:
    """The order's payload priced as of another day: the same items, payment and addresses."""
    frozen = order.snapshot
    quote = quote_build(
        source=source,
        target=target,
        quantity=frozen["quantity"],
        billing_frequency=frozen["billing_frequency"],
        addons=list(selectors.upgrade_addon_list(source=source)),
        as_of=as_of,
    )
    items = _Items(quantity=frozen["quantity"], billing_frequency=frozen["billing_frequency"])
    payload = {
        **quote_as_snapshot(quote=quote, source=source, target=target, cart=items),
        "payment_method": order.payment_method,
        "po_number": frozen.get("po_number", ""),
        "sold_to": frozen.get("sold_to", {}),
        "billed_to": frozen.get("billed_to", {}),
        "credit_check_required": credit_check_required(
            total=quote.total, payment_method=order.payment_method
        ),
    }
    if order.payment_method == PaymentMethod.INVOICE:
        profile = getattr(order.tenant, "billing_profile", None)
        if not invoice_allowed(
            total=quote.total, invoice_eligible=bool(profile and profile.invoice_eligible)
        ):
            raise DomainError(
                _(
                    "On that day the amount to pay is below the minimum for paying by invoice. "
                    "Choose another day, or cancel this upgrade and order again paying by card."
                ),
                code="invoice_not_allowed",
            )
    return payload


class _Items:
    """What quote_as_snapshot reads of a cart: the quantity and billing bought."""

    def __init__(self, *, quantity: int, billing_frequency: str):
        self.quantity = quantity
        self.billing_frequency = billing_frequency


def upgrade_run_reschedule(*, tenant, actor, run_id: int, scheduled_for) -> UpgradeRun:
    """Move a scheduled upgrade to another window (the same bounds as at checkout). When the
    day changes the order is priced again as of the new day (nothing is charged before the
    start, so its snapshot and total may change); refused when the source changed since the
    order was placed: its prices no longer apply, and the admin cancels and orders again."""
    with transaction.atomic():
        run = _scheduled_run_locked(tenant=tenant, actor=actor, run_id=run_id)
        window_check(
            scheduled_for=scheduled_for,
            now=clock.now(),
            time_zone=tenant.time_zone,
            source=run.source,
        )
        # The order, then the source and its add-ons by pk: the engine's order.
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("tenant__billing_profile")
            .get(pk=run.order_id)
        )
        list(
            Subscription.objects.select_for_update(of=("self",))
            .filter(Q(pk=run.source_id) | Q(parent_id=run.source_id))
            .order_by("pk")
        )
        source = Subscription.objects.select_related("product", "tenant").get(pk=run.source_id)
        if snapshot_source_changed(snapshot=order.snapshot, source=source):
            raise DomainError(
                _(
                    "%(source)s changed since this upgrade was scheduled (its licenses, add-ons, "
                    "paid period or status), so its prices no longer apply. Cancel this upgrade "
                    "and start a new one from the Upgrade tab."
                )
                % {"source": source.product.name},
                code="order_outdated",
            )
        previous = {"scheduled_for": run.scheduled_for.isoformat(), "total": str(order.total)}
        as_of = window_as_of(scheduled_for)
        if as_of != snapshot_credit_from(order.snapshot):
            payload = _order_repriced(order=order, source=source, target=run.target, as_of=as_of)
            order.snapshot = payload
            order.total = snapshot_total(payload)
            order.request_fingerprint = order_fingerprint(payload)
            order.save(update_fields=["snapshot", "total", "request_fingerprint"])
        run.scheduled_for = scheduled_for
        run.save(update_fields=["scheduled_for"])
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="upgrade.reschedule",
            target=f"upgrade_run:{run.pk}",
            data={
                **previous,
                "order": order.pk,
                "new_scheduled_for": scheduled_for.isoformat(),
                "new_total": str(order.total),
            },
        )
    run.order = order
    return run


def run_start_blockers(*, run: UpgradeRun) -> list[plan.Blocker]:
    """What would make a scheduled run fail if its window started now: the plan's blockers,
    and a source that changed since the order was priced (its frozen credit would be wrong).
    A read."""
    found = list(plan.run_blockers(run=run))
    source = run.source
    if run.state == RunState.SCHEDULED and snapshot_source_changed(
        snapshot=run.order.snapshot, source=source
    ):
        found.append(
            plan.Blocker(
                code="order_outdated",
                message=text("upgrades.failure.order_outdated", source=source.product.name),
                remedy=_("Cancel this upgrade and start a new one from the Upgrade tab."),
            )
        )
    return found


def _scheduled_run_start(*, pk: int, now) -> str | None:
    """Start a scheduled run whose window has begun: fail it (nothing was charged) if it
    would fail anyway, else lock the tenant's admins out and queue it, as Place order does.
    Returns "started", "failed_at_start" or None (not due, or another process holds it)."""
    with transaction.atomic():
        run = engine.run_lock(pk, state=RunState.SCHEDULED, scheduled_for__lte=now)
        if run is None:
            return None
        # The order, then the source and its add-ons by pk, as Place order takes them: a
        # license or subscription write that began before the start commits first (and the
        # checks below see it), one that begins after it finds the tenant locked.
        Order.objects.select_for_update(of=("self",)).filter(pk=run.order_id).exists()
        list(
            Subscription.objects.select_for_update(of=("self",))
            .filter(Q(pk=run.source_id) | Q(parent_id=run.source_id))
            .order_by("pk")
        )
        blockers = run_start_blockers(run=run)
        if blockers:
            # As a failure of its first step: a support retry starts it from the beginning.
            engine.run_fail(run=run, reason=blockers[0].text, step=RunState.PLACED)
            return "failed_at_start"
        run_transition(run=run, to=RunState.PLACED, reason=text("upgrades.reason.window_started"))
        # A lock the tenant already has (never a run's: one active run per tenant) raises
        # here and rolls the start back: the run stays scheduled for the next pass.
        admin_lock_acquire(
            tenant=run.tenant,
            holder=run,
            reason=text("upgrades.reason.in_progress"),
            status_url=engine.status_url(run),
        )
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["heartbeat_at"])
        audit_event_record(
            tenant=run.tenant,
            actor=None,
            action="upgrade.start",
            target=f"upgrade_run:{run.pk}",
            data={"scheduled_for": run.scheduled_for.isoformat()},
        )
        _enqueue(run.pk)
    return "started"


# --- Support actions and the reconciler ----------------------------------------------------


def _credit_check_resolve(*, run_id: int, approve: bool, actor, reason: str) -> UpgradeRun:
    with transaction.atomic():
        run = UpgradeRun.objects.select_for_update(of=("self",)).get(pk=run_id)
        if run.state != RunState.AWAITING_CREDIT_CHECK:
            raise DomainError(
                _("This upgrade is not waiting for a credit check."), code="not_awaiting"
            )
        check = CreditCheck.objects.select_for_update(of=("self",)).get(order_id=run.order_id)
        credit_check_decide(credit_check=check, approve=approve, actor=actor, reason=reason)
        if approve:
            run.heartbeat_at = timezone.now()
            run.save(update_fields=["heartbeat_at"])
            run_transition(run=run, to=RunState.PROVISIONING, actor=actor, reason=reason)
            _enqueue(run.pk)
        else:
            engine.run_decline(run=run, actor=actor, reason=reason)
    return run


def upgrade_credit_check_decide(*, run: UpgradeRun, approve: bool, actor, reason: str):
    """A support engineer approves or declines the run's pending credit check."""
    if not is_support(actor):
        raise DomainError(_("Only support engineers decide credit checks."), code="forbidden")
    return _credit_check_resolve(run_id=run.pk, approve=approve, actor=actor, reason=reason)


def upgrade_retry(*, run: UpgradeRun, actor, reason: str) -> UpgradeRun:
    """Start a failed run again (support). Its failure put everything back, so it starts over
    from provisioning (or from the start, if it failed before anything was bought) with the
    order's frozen prices; it never resumes a step whose work was undone. Locks the tenant
    again."""
    if not str(reason).strip():
        raise DomainError(_("Write a reason for the retry."), code="reason_required")
    with transaction.atomic():
        run = (
            UpgradeRun.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .get(pk=run.pk)
        )
        if run.state != RunState.FAILED:
            raise DomainError(_("Only a failed upgrade can be retried."), code="not_failed")
        step = RunState.PLACED if run.failed_step == RunState.PLACED else RunState.PROVISIONING
        order = Order.objects.select_for_update(of=("self",)).get(pk=run.order_id)
        source = Subscription.objects.select_for_update(of=("self",)).get(pk=run.source_id)
        if snapshot_source_changed(snapshot=order.snapshot, source=source):
            raise DomainError(
                _(
                    "%(source)s changed since this order was placed (its licenses, add-ons, "
                    "paid period or status), so its frozen prices no longer apply. The admin "
                    "can place a new upgrade from the Upgrade tab."
                )
                % {"source": source.product.name},
                code="order_outdated",
            )
        # A run that failed before failures were compensated is compensated now; for any
        # other this finds nothing left to undo.
        engine.run_compensate(run)
        try:
            with transaction.atomic():
                run_transition(run=run, to=step, actor=actor, reason=reason)
                admin_lock_acquire(
                    tenant=run.tenant,
                    holder=run,
                    reason=text("upgrades.reason.in_progress"),
                    status_url=engine.status_url(run),
                )
        except IntegrityError:
            raise DomainError(
                _("Another upgrade on this organisation is running."), code="upgrade_in_progress"
            ) from None
        previous = {
            "failed_step": run.failed_step,
            "cancelled_subscription": run.new_subscription_id,
        }
        run.new_subscription = None
        run.failed_step = ""
        run.failure_reason = ""
        run.last_error = ""
        run.error_signature = ""
        run.error_count = 0
        run.attempts = 0
        # The failed attempt's times: the estimate learns from, and counts down with, this one.
        run.work_started_at = run.move_started_at = None
        run.move_finished_at = run.work_finished_at = None
        run.finished_at = None
        run.heartbeat_at = timezone.now()
        run.moved = 0
        run.move_cursor = 0
        run.total = 0
        run.undo = {}
        run.save()
        Order.objects.filter(pk=run.order_id).update(state=Order.State.PLACED)
        audit_event_record(
            tenant=run.tenant,
            actor=actor,
            action="upgrade.retry",
            target=f"upgrade_run:{run.pk}",
            reason=reason,
            data={"step": step, **previous},
        )
        _enqueue(run.pk)
    return run


def _stalled_run_resend(*, pk: int, cutoff, max_attempts: int) -> str | None:
    """Send a stalled run on, or fail it once it has stalled too often. Returns what was done
    ("requeued", "failed") or None when the run needs nothing (any more)."""
    with transaction.atomic():
        run = engine.run_lock(pk, heartbeat_at__lt=cutoff)
        if run is None or run.is_terminal or run.state == RunState.AWAITING_CREDIT_CHECK:
            return None
        run.attempts += 1
        run.heartbeat_at = timezone.now()
        run.save(update_fields=["attempts", "heartbeat_at"])
    # The attempt is counted (committed) even if failing the run below raises.
    with transaction.atomic():
        run = engine.run_lock(pk)
        if run is None or run.is_terminal:
            return None
        if run.attempts > max_attempts:
            engine.run_fail(
                run=run,
                reason=text("upgrades.failure.unresponsive", count=max_attempts),
            )
            return "failed"
        _enqueue(run.pk)
        return "requeued"


def upgrade_runs_reconcile() -> dict:
    """The periodic safety net. Re-enqueues runs whose heartbeat stopped (a killed worker's
    message comes back only after the broker's visibility timeout), fails runs that keep
    stopping, applies the default to credit checks past their deadline, and starts the
    scheduled runs whose maintenance window has begun (never one before it)."""
    result = {"requeued": 0, "failed": 0, "credit_checks": 0, "started": 0, "failed_at_start": 0}
    now = clock.now()
    for pk in list(selectors.runs_due(now=now).values_list("pk", flat=True)):
        try:
            outcome = _scheduled_run_start(pk=pk, now=now)
        except Exception:
            log.exception("the reconciler could not start scheduled upgrade run %s", pk)
            UpgradeRun.objects.filter(pk=pk).update(last_error=traceback.format_exc()[-2000:])
            continue
        if outcome:
            result[outcome] += 1
    cutoff = engine.heartbeat_cutoff()
    max_attempts = settings.PORTAL_UPGRADE_MAX_ATTEMPTS
    for pk in list(selectors.runs_stalled(before=cutoff).values_list("pk", flat=True)):
        try:
            outcome = _stalled_run_resend(pk=pk, cutoff=cutoff, max_attempts=max_attempts)
        except Exception:
            # One run that cannot be sent on or failed (a compensation that raises: a bug)
            # must not stop the pass for every other tenant; its lock stays, and support
            # sees it with its error.
            log.exception("the reconciler could not handle upgrade run %s", pk)
            UpgradeRun.objects.filter(pk=pk).update(
                heartbeat_at=timezone.now(), last_error=traceback.format_exc()[-2000:]
            )
            continue
        if outcome:
            result[outcome] += 1
    default_approve = credit_check_default_approves()
    for pk in list(
        selectors.runs_past_credit_deadline(now=clock.now()).values_list("pk", flat=True)
    ):
        try:
            _credit_check_resolve(
                run_id=pk,
                approve=default_approve,
                actor=None,
                reason=text(CREDIT_CHECK_DEFAULT_REASON),
            )
            result["credit_checks"] += 1
        except DomainError:
            continue  # decided by a support engineer in the meantime
    return result
