"""Upgrade endpoints of the JSON API: eligibility with reasons, placing an upgrade (idempotent
by the Idempotency-Key header) and the run's status. Placing goes through the same services as
the pages: cart, checkout (the pricing snapshot is frozen), place order."""

from django.http import Http404, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from billing.models import BillingFrequency, PaymentMethod
from billing.selectors import subscription_get
from portal.api.framework import (
    ApiError,
    admin_lock_check,
    clean_text,
    endpoint,
    id_field,
    idempotency_key,
    invalid,
    json_body,
    query_choice,
    query_limit,
    request_fingerprint,
)
from portal.api.services import api_idempotent_call
from portal.errors import DomainError
from portal.roles import Cap

from . import selectors, services
from .eligibility import Eligibility, Reason
from .models import RunState, UpgradeRun

PLACE_FIELDS = {
    "subscription_id",
    "target",
    "billing_frequency",
    "quantity",
    "payment_method",
    "po_number",
}
RUNS_PAGE_DEFAULT = 20
RUNS_PAGE_MAX = 100


def _reason_json(reason: Reason) -> dict:
    return {
        "code": str(reason.code),
        "message": str(reason.message),
        "remedy": str(reason.remedy),
        "temporary": reason.temporary,
    }


def eligibility_json(subscription, eligibility: Eligibility) -> dict:
    return {
        "subscription_id": subscription.pk,
        "eligible": eligibility.eligible,
        "reasons": [_reason_json(r) for r in eligibility.reasons],
        "targets": [
            {
                "code": t.code,
                "name": t.name,
                "available": t.available and not eligibility.reasons,
                "reasons": [_reason_json(r) for r in t.reasons],
                "moved_addons": [
                    {"subscription_id": a.subscription_id, "code": a.code, "name": a.name}
                    for a in t.moved_addons
                ],
                "removed_addons": [
                    {"subscription_id": a.subscription_id, "code": a.code, "name": a.name}
                    for a in t.removed_addons
                ],
                "lost_services": list(t.lost_services),
            }
            for t in eligibility.targets
        ],
    }


def run_json(run: UpgradeRun, *, events=None) -> dict:
    order = run.order
    data = {
        "id": run.pk,
        "state": run.state,
        "state_label": str(RunState(run.state).label),
        "terminal": run.is_terminal,
        "source_subscription_id": run.source_id,
        "target": {"code": run.target.code, "name": run.target.name},
        "new_subscription_id": run.new_subscription_id,
        "progress": {"moved": run.moved, "total": run.total, "percent": run.percent},
        "failed_step": run.failed_step or None,
        "failure_reason": run.failure_reason or None,
        "placed_at": run.placed_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "order": {
            "id": order.pk,
            "total": str(order.total),
            "currency": order.currency,
            "payment_method": order.payment_method,
        },
        "status_url": reverse("upgrade_status", args=[run.tenant.slug, run.pk]),
    }
    if events is not None:
        data["events"] = [
            {
                "from": e.from_state or None,
                "to": e.to_state,
                "at": e.at.isoformat(),
                "actor": e.actor.get_username() if e.actor else None,
                "reason": e.reason,
            }
            for e in events
        ]
    return data


@endpoint(cap=Cap.VIEW)
def eligibility(request, subscription_id: int):
    """Whether the subscription can be upgraded now, to what, and every reason why not."""
    subscription = subscription_get(tenant=request.tenant, pk=subscription_id)
    result = selectors.eligibility_for(access=request.access, subscription=subscription)
    return eligibility_json(subscription, result)


def _place_arguments(body: dict) -> dict:
    unknown = sorted(set(body) - PLACE_FIELDS)
    if unknown:
        raise ApiError(
            400,
            "invalid_request",
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)},
            details={"fields": unknown},
        )
    args = {
        "subscription_id": id_field(body, "subscription_id"),
        "target": clean_text(body.get("target"), field="target", max_length=40),
        "billing_frequency": body.get("billing_frequency"),
        "quantity": body.get("quantity"),
        "payment_method": body.get("payment_method"),
        "po_number": body.get("po_number"),
    }
    if args["billing_frequency"] is not None and args["billing_frequency"] not in (
        BillingFrequency.values
    ):
        raise invalid("billing_frequency", _("billing_frequency must be monthly or yearly."))
    quantity = args["quantity"]
    if quantity is not None and (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= services.MAX_QUANTITY
    ):
        raise invalid(
            "quantity",
            _("quantity must be a whole number from 1 to %(max)d.")
            % {"max": services.MAX_QUANTITY},
        )
    if args["payment_method"] is not None and args["payment_method"] not in PaymentMethod.values:
        raise invalid("payment_method", _("payment_method must be card or invoice."))
    if args["po_number"] is not None:
        args["po_number"] = clean_text(args["po_number"], field="po_number", max_length=60)
    return args


def _place(request, args: dict) -> tuple[int, dict]:
    admin_lock_check(request.access)
    try:
        source = subscription_get(tenant=request.tenant, pk=args["subscription_id"])
    except Http404:
        raise DomainError(_("That subscription does not exist."), code="not_found") from None
    cart = services.upgrade_cart_create(
        access=request.access, source=source, target_code=args["target"]
    )
    if args["quantity"] is not None or args["billing_frequency"] is not None:
        cart = services.upgrade_cart_update(
            cart=cart,
            quantity=args["quantity"] or cart.quantity,
            billing_frequency=args["billing_frequency"] or cart.billing_frequency,
        )
    cart = services.upgrade_checkout_open(cart=cart)
    if args["payment_method"] is not None or args["po_number"] is not None:
        cart = services.upgrade_checkout_update(
            cart=cart, payment_method=args["payment_method"], po_number=args["po_number"]
        )
    run = services.upgrade_place(
        tenant=request.tenant,
        actor=request.access.user,
        cart=cart,
        idempotency_key=cart.checkout_token,
    )
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run.pk)
    return 201, run_json(run, events=selectors.upgrade_run_events(run=run))


# Lock-exempt so that a replay of an order that locked the tenant still gets its first result;
# a new order checks the lock itself.
@endpoint(cap=Cap.PURCHASE, lock_exempt=True)
def upgrade_place(request):
    """POST upgrades with an Idempotency-Key header. The same key and body again returns the
    first result (201, with Idempotent-Replayed: true); the same key with another body is
    refused (409); a request that failed leaves the key unused."""
    key = idempotency_key(request)
    body = json_body(request)
    args = _place_arguments(body)
    status, result, replayed = api_idempotent_call(
        tenant=request.tenant,
        key=key,
        fingerprint=request_fingerprint(request, body),
        perform=lambda: _place(request, args),
    )
    response = JsonResponse(result, status=status)
    response["Idempotent-Replayed"] = "true" if replayed else "false"
    return response


@endpoint(cap=Cap.VIEW, lock_exempt=True)
def upgrade_list(request):
    state = query_choice(request, "state", RunState.values)
    limit = query_limit(request, default=RUNS_PAGE_DEFAULT, maximum=RUNS_PAGE_MAX)
    runs = selectors.upgrade_run_list(tenant=request.tenant, state=state)[:limit]
    return {"items": [run_json(run) for run in runs]}


@endpoint(cap=Cap.VIEW, lock_exempt=True)
def upgrade_status(request, run_id: int):
    """A run's state, progress, failure and timeline; readable while the tenant is locked."""
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run_id)
    return run_json(run, events=selectors.upgrade_run_events(run=run))
