"""Reads of the support console. Support engineers see every tenant, so these are the only
selectors that are not scoped by one tenant; only support views (staff, 404 for everybody
else) call them. The console sits above every app, as the URLconf does, so it reads the
upgrades and billing apps' tables through their selectors where they have one."""

import datetime as dt

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from billing import selectors as billing_selectors
from billing.models import CreditCheck
from portal import clock
from portal.api.selectors import api_token_lockout_list
from portal.models import AdminLock, AuditEvent, ServiceIncident, Tenant
from portal.signin import SignInLockout, signin_lockout_list
from upgrades import selectors as upgrade_selectors
from upgrades.models import TERMINAL_STATES, RunState, SupportRequest

# Age filters of the run search: placed within / more than this long ago.
AGES = {
    "lt1h": ("newer", dt.timedelta(hours=1)),
    "lt1d": ("newer", dt.timedelta(days=1)),
    "lt7d": ("newer", dt.timedelta(days=7)),
    "gt1h": ("older", dt.timedelta(hours=1)),
    "gt1d": ("older", dt.timedelta(days=1)),
    "gt7d": ("older", dt.timedelta(days=7)),
}
PAGE = 200


def support_tenant_search(*, query: str = ""):
    tenants = Tenant.objects.select_related("admin_lock").order_by("name")
    if query:
        tenants = tenants.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    return tenants[:PAGE]


def support_tenant_get(*, slug: str) -> Tenant:
    return get_object_or_404(Tenant.objects.select_related("admin_lock"), slug=slug)


def support_run_search(
    *, tenant_query: str = "", state: str | None = None, age: str | None = None, active=None
):
    """Upgrade runs of every tenant, newest first, by tenant name or short name, state and
    age (how long ago the order was placed, on the simulated clock)."""
    runs = upgrade_selectors.upgrade_run_list(tenant=None, state=state or None, active=active)
    if tenant_query:
        runs = runs.filter(
            Q(tenant__name__icontains=tenant_query) | Q(tenant__slug__icontains=tenant_query)
        )
    if age in AGES:
        direction, delta = AGES[age]
        cutoff = clock.now() - delta
        runs = (
            runs.filter(placed_at__gte=cutoff)
            if direction == "newer"
            else runs.filter(placed_at__lt=cutoff)
        )
    return runs[:PAGE]


# Runs doing their work now: neither waiting (for a window or a credit check) nor finished.
WORKING_STATES = (
    frozenset(RunState)
    - TERMINAL_STATES
    - {
        RunState.SCHEDULED,
        RunState.AWAITING_CREDIT_CHECK,
    }
)


def support_running_runs(*, limit: int = PAGE):
    """Runs of every tenant doing their work now, newest first."""
    return (
        upgrade_selectors.upgrade_run_list(tenant=None)
        .filter(state__in=sorted(WORKING_STATES))
        .order_by("-placed_at", "-pk")[:limit]
    )


def support_tenant_runs(*, tenant: Tenant, limit: int = 50):
    return upgrade_selectors.upgrade_run_list(tenant=tenant)[:limit]


def support_tenant_billing(*, tenant: Tenant, limit: int = 10) -> dict:
    """The tenant's credit balance, unpaid invoices and latest invoices."""
    return {
        "balance": billing_selectors.credit_balance(tenant=tenant),
        "unpaid": billing_selectors.invoice_list_unpaid(tenant=tenant).count(),
        "invoices": billing_selectors.invoice_list(tenant=tenant)[:limit],
    }


def support_tenant_incidents(*, tenant: Tenant, limit: int = 20):
    return ServiceIncident.objects.filter(tenant=tenant).order_by("-opened_at")[:limit]


def support_run_get(*, pk: int):
    """The run with everything its page and its poll show about it, in one query (the tenant's
    admin lock included)."""
    run = (
        upgrade_selectors.upgrade_run_list(tenant=None)
        .select_related("new_subscription__product", "placed_by", "tenant__admin_lock")
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise Http404
    return run


def support_run_credit_check(*, run) -> CreditCheck | None:
    return CreditCheck.objects.filter(order_id=run.order_id).select_related("decided_by").first()


def support_run_audit(*, run, limit: int = 50):
    """Audit events about the run and its order."""
    return (
        AuditEvent.objects.filter(
            Q(target=f"upgrade_run:{run.pk}") | Q(target=f"order:{run.order_id}"),
            tenant_id=run.tenant_id,
        )
        .select_related("actor")
        .order_by("created_at", "pk")[:limit]
    )


def support_lock_list():
    return AdminLock.objects.select_related("tenant", "holder_type").order_by("since")


def support_incident_list(*, open_only: bool = False, limit: int = 100):
    incidents = ServiceIncident.objects.select_related("tenant", "opened_by", "resolved_by")
    if open_only:
        incidents = incidents.filter(resolved_at__isnull=True)
    return incidents.order_by("resolved_at", "-opened_at")[:limit]


def support_incident_get(*, pk: int) -> ServiceIncident:
    return get_object_or_404(ServiceIncident, pk=pk)


def support_tenant_audit(*, tenant: Tenant, limit: int = 50):
    return AuditEvent.objects.filter(tenant=tenant).select_related("actor")[:limit]


def support_signin_lockout_list() -> list[SignInLockout]:
    """Every account and address refused sign-in now, most recently locked first, then every
    address the API holds back for token guessing."""
    return signin_lockout_list() + api_token_lockout_list()


# --- Support requests and scheduled runs ---------------------------------------------------


def _support_requests():
    return SupportRequest.objects.select_related(
        "tenant", "subscription__product", "run__target", "created_by", "answered_by"
    )


def support_request_queue(*, limit: int = PAGE) -> dict:
    """Open requests first (oldest first: they have waited longest), then the latest answered."""
    return {
        "open": _support_requests()
        .filter(state=SupportRequest.State.OPEN)
        .order_by("created_at", "pk")[:limit],
        "answered": _support_requests()
        .filter(state=SupportRequest.State.ANSWERED)
        .order_by("-answered_at", "-pk")[:limit],
    }


def support_request_open_count() -> int:
    return SupportRequest.objects.filter(state=SupportRequest.State.OPEN).count()


def support_request_get(*, pk: int) -> SupportRequest:
    return get_object_or_404(_support_requests(), pk=pk)


def support_run_requests(*, run):
    return _support_requests().filter(run=run).order_by("-created_at", "-pk")


def support_scheduled_runs(*, limit: int = PAGE):
    """Runs waiting for their maintenance window, the soonest first."""
    return (
        upgrade_selectors.upgrade_run_list(tenant=None, state=RunState.SCHEDULED)
        .select_related("placed_by")
        .order_by("scheduled_for", "pk")[:limit]
    )
