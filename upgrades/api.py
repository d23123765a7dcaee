"""Upgrade endpoints of the JSON API: eligibility with reasons, placing an upgrade (idempotent
by the Idempotency-Key header) and the run's status. Mounted under
/api/v1/tenants/<tenant_slug>/ by config/api.py. Placing goes through the same services as the
pages: cart, checkout (the pricing snapshot is frozen), place order."""

import datetime as dt
from typing import Annotated, Literal

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from billing.api import Product
from billing.models import BillingFrequency, PaymentMethod
from billing.selectors import subscription_get
from portal.api.auth import TokenAuth, admin_lock_check
from portal.api.errors import ApiError, api_responses
from portal.api.fields import (
    DateTimeText,
    Id,
    IdempotencyKey,
    PathId,
    QueryInt,
    TenantSlug,
    text,
)
from portal.api.services import api_idempotent_call, idempotency_fingerprint
from portal.roles import Cap

from . import report, selectors, services
from .eligibility import Eligibility as EligibilityResult
from .eligibility import Reason as ReasonResult
from .models import RunState
from .models import UpgradeRun as UpgradeRunModel

RUNS_PAGE_DEFAULT = 20
RUNS_PAGE_MAX = 100

router = Router(tags=["upgrades"])

RunStateValue = Literal[tuple(RunState.values)]


# --- Eligibility ---------------------------------------------------------------------------


class Reason(Schema):
    code: str
    message: str
    remedy: str
    temporary: bool = Field(description="True when the reason passes by itself (try again later).")


class AddonRef(Schema):
    subscription_id: int = Field(ge=1)
    code: str
    name: str


class UpgradeTarget(Schema):
    code: str
    name: str
    available: bool
    reasons: list[Reason]
    moved_addons: list[AddonRef]
    removed_addons: list[AddonRef]
    lost_services: list[str]


class Eligibility(Schema):
    subscription_id: int = Field(ge=1)
    eligible: bool
    reasons: list[Reason] = Field(
        description="Why the subscription cannot be upgraded now (empty when it can)."
    )
    targets: list[UpgradeTarget]


def _reason_json(reason: ReasonResult) -> dict:
    return {
        "code": str(reason.code),
        "message": str(reason.message),
        "remedy": str(reason.remedy),
        "temporary": reason.temporary,
    }


def eligibility_json(subscription, eligibility: EligibilityResult) -> dict:
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


@router.get(
    "/subscriptions/{api_id:subscription_id}/eligibility",
    auth=TokenAuth(Cap.VIEW),
    url_name="eligibility",
    summary="Whether the subscription can be upgraded, to what, and why not",
    **api_responses({200: Eligibility}, 403, 423),
)
def eligibility(request, tenant_slug: TenantSlug, subscription_id: PathId):
    """Reasons and targets, as the Upgrade tab shows them."""
    subscription = subscription_get(tenant=request.tenant, pk=subscription_id)
    result = selectors.eligibility_for(access=request.access, subscription=subscription)
    return eligibility_json(subscription, result)


# --- Runs ----------------------------------------------------------------------------------


class Progress(Schema):
    moved: int = Field(ge=0)
    total: int = Field(ge=0)
    percent: int = Field(ge=0, le=100)


class RunOrder(Schema):
    id: int = Field(ge=1)
    total: str = Field(description="Decimal amount.")
    currency: str
    payment_method: Literal[tuple(PaymentMethod.values)]


class UpgradeEvent(Schema):
    from_state: str | None = Field(alias="from")
    to: str
    at: DateTimeText
    actor: str | None
    reason: str


class DurationEstimate(Schema):
    users: int = Field(ge=0)
    seconds: float = Field(ge=0, description="Expected, from the start of the work to completed.")
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    runs: int = Field(ge=0, description="Completed runs it learnt from (0: a rough default).")


class UpgradeRun(Schema):
    id: int = Field(ge=1)
    state: RunStateValue
    state_label: str
    terminal: bool
    source_subscription_id: int = Field(ge=1)
    target: Product
    new_subscription_id: int | None
    progress: Progress
    failed_step: str | None
    failure_reason: str | None
    placed_at: DateTimeText
    finished_at: DateTimeText | None
    scheduled_for: DateTimeText | None = Field(
        description="The maintenance window's start (null: started when placed)."
    )
    estimate: DurationEstimate | None = Field(
        description="The expected duration when the order was placed."
    )
    order: RunOrder
    status_url: str = Field(description="The portal's status page.")
    # Only on a single run (status, or placing one); never in a list.
    events: list[UpgradeEvent] = Field(
        default_factory=list, description="Every state change, oldest first."
    )


class UpgradeRunList(Schema):
    items: list[UpgradeRun]


def run_json(run: UpgradeRunModel, *, events=None) -> dict:
    """A run as the API answers it (and `manage.py upgrade_status --json` prints it)."""
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
        "failure_reason": str(run.failure_reason) or None,
        "placed_at": run.placed_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "scheduled_for": run.scheduled_for.isoformat() if run.scheduled_for else None,
        "estimate": {
            name: run.estimate[name] for name in ("users", "seconds", "low", "high", "runs")
        }
        if run.estimate
        else None,
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
                "reason": str(e.reason),
            }
            for e in events
        ]
    return data


class UpgradeRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    subscription_id: Id = Field(description="The subscription to upgrade from.")
    target: text(40) = Field(description="Product code of the target plan (see eligibility).")
    billing_frequency: Literal[tuple(BillingFrequency.values)] | None = Field(
        None, description="Defaults to the source subscription's."
    )
    quantity: Annotated[int, Field(strict=True, ge=1, le=services.MAX_QUANTITY)] | None = Field(
        None, description="Licenses to buy; at least the current quantity. Defaults to it."
    )
    payment_method: Literal[tuple(PaymentMethod.values)] | None = None
    po_number: text(60) | None = None
    start_at: dt.datetime | None = Field(
        None,
        description="Start in a maintenance window at this time (ISO 8601 with a UTC offset): "
        "at least an hour ahead, within 14 days. Until then nothing is charged and the admins "
        "are not locked out. Omitted: the upgrade starts at once.",
    )

    @field_validator("start_at")
    @classmethod
    def _aware(cls, value):
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-12-10T22:00:00+01:00")
        return value


def _place(request, body: UpgradeRequest) -> tuple[int, dict]:
    admin_lock_check(request.access)
    # Another tenant's subscription answers as one that does not exist, and as it does in a
    # path: 404 `not_found` (Http404 rolls back the idempotency key's row with the rest).
    source = subscription_get(tenant=request.tenant, pk=body.subscription_id)
    cart = services.upgrade_cart_create(
        access=request.access, source=source, target_code=body.target
    )
    if body.quantity is not None or body.billing_frequency is not None:
        cart = services.upgrade_cart_update(
            cart=cart,
            actor=request.access.user,
            quantity=body.quantity or cart.quantity,
            billing_frequency=body.billing_frequency or cart.billing_frequency,
        )
    cart = services.upgrade_checkout_open(cart=cart, actor=request.access.user)
    if body.payment_method is not None or body.po_number is not None:
        cart = services.upgrade_checkout_update(
            cart=cart,
            actor=request.access.user,
            payment_method=body.payment_method,
            po_number=body.po_number,
        )
    if body.start_at is not None:
        cart = services.upgrade_checkout_window_set(
            cart=cart, actor=request.access.user, scheduled_for=body.start_at
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
# a new order checks the lock itself (in _place).
@router.post(
    "/upgrades",
    auth=TokenAuth(Cap.PURCHASE, lock_exempt=True),
    url_name="upgrades",
    summary="Place an upgrade",
    by_alias=True,
    exclude_unset=True,
    **api_responses({201: UpgradeRun}, 400, 403, 409, 413, 422, 423),
)
def upgrade_place(
    request,
    tenant_slug: TenantSlug,
    idempotency_key: IdempotencyKey,
    body: UpgradeRequest,
    response: HttpResponse,
):
    """Cart, checkout and place order in one request, as on the Upgrade tab: the pricing is
    frozen and charged as quoted, and the tenant's admin center is locked until the run ends.
    Requires an Idempotency-Key header: sending the same key and body again returns the first
    result (with `Idempotent-Replayed: true`); the same key with a different body is refused
    with 409. A request that was refused leaves its key unused."""
    status, result, replayed = api_idempotent_call(
        tenant=request.tenant,
        key=idempotency_key,
        # The fields as sent (exclude_unset): the same fingerprint as the raw JSON body.
        fingerprint=idempotency_fingerprint(
            request, body.model_dump(mode="json", exclude_unset=True)
        ),
        perform=lambda: _place(request, body),
    )
    response["Idempotent-Replayed"] = "true" if replayed else "false"
    return Status(status, result)


@router.get(
    "/upgrades",
    auth=TokenAuth(Cap.VIEW, lock_exempt=True),
    url_name="upgrades",
    summary="List upgrade runs, newest first",
    by_alias=True,
    exclude_unset=True,
    **api_responses({200: UpgradeRunList}, 400, 403),
)
def upgrade_list(
    request,
    tenant_slug: TenantSlug,
    state: Annotated[RunStateValue, Query(None, description="Only runs in this state.")],
    limit: Annotated[
        QueryInt, Query(RUNS_PAGE_DEFAULT, ge=1, le=RUNS_PAGE_MAX, description="How many runs.")
    ],
):
    """Readable while the tenant is locked by an upgrade."""
    runs = selectors.upgrade_run_list(tenant=request.tenant, state=state)[:limit]
    return {"items": [run_json(run) for run in runs]}


@router.get(
    "/upgrades/{api_id:run_id}",
    auth=TokenAuth(Cap.VIEW, lock_exempt=True),
    url_name="upgrade",
    summary="An upgrade run's status: state, progress, failure and timeline",
    by_alias=True,
    exclude_unset=True,
    **api_responses({200: UpgradeRun}, 403),
)
def upgrade_status(request, tenant_slug: TenantSlug, run_id: PathId):
    """Readable while the tenant is locked by an upgrade."""
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run_id)
    return run_json(run, events=selectors.upgrade_run_events(run=run))


class CancelRequest(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: text(300) | None = None


@router.post(
    "/upgrades/{api_id:run_id}/cancel",
    auth=TokenAuth(Cap.PURCHASE),
    url_name="upgrade_cancel",
    summary="Cancel a scheduled upgrade before its window",
    by_alias=True,
    exclude_unset=True,
    **api_responses({200: UpgradeRun}, 400, 403, 409, 413, 422, 423),
)
def upgrade_cancel(request, tenant_slug: TenantSlug, run_id: PathId, body: CancelRequest):
    """Only before its window starts: nothing was charged and nobody was locked out, and
    nothing is. A run that has started is refused with 409 `run_not_scheduled`."""
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run_id)
    services.upgrade_run_cancel(
        tenant=request.tenant, actor=request.access.user, run_id=run.pk, reason=body.reason or ""
    )
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run.pk)
    return run_json(run, events=selectors.upgrade_run_events(run=run))


# --- Report ----------------------------------------------------------------------------------


class ReportAddon(Schema):
    subscription_id: int | None
    product: str
    name: str
    holders: int | None = Field(description="Users who held it when the run changed it.")


class ReportInvoiceLine(Schema):
    description: str
    kind: str
    quantity: int
    amount: str = Field(description="Decimal amount; negative for a credit.")
    credit: bool


class ReportInvoice(Schema):
    number: str
    issued_at: DateTimeText
    state: str
    total: str = Field(description="Decimal amount; negative for a credit note.")
    lines: list[ReportInvoiceLine]


class ReportMoney(Schema):
    currency: str
    charged: str = Field(description="Decimal: the sum of the charges of the order's invoices.")
    credited: str = Field(description="Decimal: the sum of its credits (a positive amount).")
    net: str
    invoices: list[ReportInvoice]


class ReportStep(Schema):
    from_state: str | None = Field(alias="from")
    to: str
    at: DateTimeText
    actor: str | None
    reason: str


class UpgradeReport(Schema):
    id: int = Field(ge=1)
    state: RunStateValue
    state_label: str
    source: Product
    target: Product
    source_subscription_id: int = Field(ge=1)
    new_subscription_id: int | None
    placed_at: DateTimeText
    placed_by: str | None
    finished_at: DateTimeText | None
    failed_step: str | None
    failure_reason: str | None
    users_moved: int = Field(
        ge=0, description="Users moved (and, for a failed run, moved back to the source)."
    )
    moved_back: bool = Field(description="True when the run failed and every user moved back.")
    batches: int = Field(ge=0)
    removed_addons: list[ReportAddon]
    moved_addons: list[ReportAddon]
    money: ReportMoney
    steps: list[ReportStep] = Field(description="Every state change, oldest first.")
    users_csv_url: str = Field(description="This API's CSV of every user moved.")
    report_url: str = Field(description="The portal's printable report page.")


def _finished_run(request, run_id: int) -> UpgradeRunModel:
    run = report.report_run_get(tenant=request.tenant, pk=run_id)
    if not report.report_available(run):
        raise ApiError(
            409,
            "run_not_finished",
            _("The report is ready once the upgrade has ended; it is %(state)s.")
            % {"state": RunState(run.state).label.lower()},
        )
    return run


def report_json(run: UpgradeRunModel) -> dict:
    data = report.report_build(run=run, sample=0)
    money = data["money"]
    slug = run.tenant.slug
    return {
        "id": run.pk,
        "state": run.state,
        "state_label": str(RunState(run.state).label),
        "source": {"code": run.source.product.code, "name": run.source.product.name},
        "target": {"code": run.target.code, "name": run.target.name},
        "source_subscription_id": run.source_id,
        "new_subscription_id": run.new_subscription_id,
        "placed_at": run.placed_at.isoformat(),
        "placed_by": run.placed_by.get_username() if run.placed_by else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "failed_step": run.failed_step or None,
        "failure_reason": str(run.failure_reason) or None,
        "users_moved": data["users_moved"],
        "moved_back": data["moved_back"],
        "batches": data["batch_count"],
        "removed_addons": data["removed_addons"],
        "moved_addons": data["moved_addons"],
        "money": {
            "currency": money["currency"],
            "charged": str(money["charged"]),
            "credited": str(money["credited"]),
            "net": str(money["net"]),
            "invoices": [
                {
                    "number": invoice["number"],
                    "issued_at": invoice["issued_at"].isoformat(),
                    "state": invoice["state"],
                    "total": str(invoice["total"]),
                    "lines": [
                        {
                            "description": str(line["description"]),
                            "kind": line["kind"],
                            "quantity": line["quantity"],
                            "amount": str(line["amount"]),
                            "credit": line["credit"],
                        }
                        for line in invoice["lines"]
                    ],
                }
                for invoice in money["invoices"]
            ],
        },
        "steps": [
            {
                "from": step["from_state"] or None,
                "to": step["to_state"],
                "at": step["at"].isoformat(),
                "actor": step["actor"],
                "reason": str(step["reason"]),
            }
            for step in data["steps"]
        ],
        "users_csv_url": reverse(
            "api:upgrade_report_csv", kwargs={"tenant_slug": slug, "run_id": run.pk}
        ),
        "report_url": reverse("upgrade_report", args=[slug, run.pk]),
    }


@router.get(
    "/upgrades/{api_id:run_id}/report",
    auth=TokenAuth(Cap.VIEW, lock_exempt=True),
    url_name="upgrade_report",
    summary="The report of a finished upgrade run",
    by_alias=True,
    **api_responses({200: UpgradeReport}, 403, 409),
)
def upgrade_report(request, tenant_slug: TenantSlug, run_id: PathId):
    """What the run did: add-ons removed and moved, amounts charged and credited, every step
    with its time and actor, and how many users moved. The users themselves are in the CSV
    (`users_csv_url`). Only a run that has ended (completed, failed, declined or cancelled)
    has a report: 409 `run_not_finished` before. Readable while the tenant is locked."""
    return report_json(_finished_run(request, run_id))


_CSV_RESPONSES = api_responses({200: None}, 403, 409)
_CSV_RESPONSES["openapi_extra"]["responses"][200] = {
    "description": "A CSV (header line, then one line per user moved), streamed.",
    "content": {"text/csv": {"schema": {"type": "string"}}},
}


@router.get(
    "/upgrades/{api_id:run_id}/report.csv",
    auth=TokenAuth(Cap.VIEW, lock_exempt=True),
    url_name="upgrade_report_csv",
    summary="Every user a finished upgrade run moved, as CSV",
    **_CSV_RESPONSES,
)
def upgrade_report_csv(request, tenant_slug: TenantSlug, run_id: PathId):
    """One line per user: name, email, batch, batch time (UTC), from plan, to plan and outcome
    (moved, or moved back for a failed run). Streamed: a run of any size is answered in
    constant memory. 409 `run_not_finished` for a run that has not ended."""
    return report.report_csv_response(_finished_run(request, run_id))
