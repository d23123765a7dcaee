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
)
from billing.selectors import subscription_assigned_count
from portal import clock
from portal.actors import recorded_actor
from portal.errors import DomainError
from portal.roles import is_support
from portal.selectors import tenant_access_get
from portal.services import admin_lock_acquire, admin_lock_enforce, audit_event_record

from . import engine, selectors
from .checkout import (  # noqa: F401 (re-exported: the cart and checkout services)
    MAX_QUANTITY,
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
)
from .estimate import duration_estimate
from .models import RunState, UpgradeCart, UpgradeRun
from .quote import snapshot_total
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
    lock and then find it. Locks the tenant's admins out and queues the run on commit."""
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
        try:
            with transaction.atomic():
                run = UpgradeRun.objects.create(
                    tenant=tenant,
                    source=cart.source,
                    target=cart.target,
                    order=order,
                    placed_by=recorded_actor(actor),
                    placed_at=now,
                    heartbeat_at=timezone.now(),
                    step_times={RunState.PLACED: now.isoformat()},
                    estimate=duration_estimate(
                        users=subscription_assigned_count(subscription=cart.source)
                    ).as_json(),
                )
                admin_lock_acquire(
                    tenant=tenant,
                    holder=run,
                    reason="upgrade in progress",
                    status_url=engine.status_url(run),
                )
        except IntegrityError:
            raise DomainError(
                _("Another upgrade on this organisation is already running."),
                code="upgrade_in_progress",
            ) from None
        run.events.create(
            from_state="", to_state=RunState.PLACED, at=now, actor=recorded_actor(actor)
        )
        cart.order = order
        cart.save(update_fields=["order"])
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="upgrade.place",
            target=f"upgrade_run:{run.pk}",
            data={
                "order": order.pk,
                "source": cart.source_id,
                "target": cart.target.code,
                "quantity": cart.quantity,
                "total": str(order.total),
            },
        )
        _enqueue(run.pk)
    return run


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
    if not reason.strip():
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
                    reason="upgrade in progress",
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
                reason=_("The upgrade stopped responding %(n)s times; support has been notified.")
                % {"n": max_attempts},
            )
            return "failed"
        _enqueue(run.pk)
        return "requeued"


def upgrade_runs_reconcile() -> dict:
    """The periodic safety net. Re-enqueues runs whose heartbeat stopped (a killed worker's
    message comes back only after the broker's visibility timeout), fails runs that keep
    stopping, and applies the default to credit checks past their deadline."""
    result = {"requeued": 0, "failed": 0, "credit_checks": 0}
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
                reason=CREDIT_CHECK_DEFAULT_REASON,
            )
            result["credit_checks"] += 1
        except DomainError:
            continue  # decided by a support engineer in the meantime
    return result
