"""Every read of the upgrades app, scoped by tenant. Cross-tenant ids end in 404."""

from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404

from billing.catalog import catalog_data
from billing.models import CreditCheck, Invoice, Price, Status, Subscription, UpgradePath
from portal import clock
from portal.models import Membership, ServiceIncident, Tenant
from portal.roles import Cap, is_support
from portal.selectors import TenantAccess

from .eligibility import (
    AddonFacts,
    Eligibility,
    EligibilitySnapshot,
    TargetFacts,
    eligibility_evaluate,
)
from .models import TERMINAL_STATES, RunState, UpgradeCart, UpgradeRun

LIVE_STATUSES = [Status.PROVISIONING, Status.ACTIVE, Status.EXPIRED]
ACTIVE_RUN = ~Q(state__in=[s.value for s in TERMINAL_STATES])


@lru_cache(maxsize=1)
def service_names() -> dict:
    return dict(catalog_data().get("services", {}))


def overdue_invoices_count(*, tenant: Tenant, today) -> int:
    """The tenant's unpaid invoices past their due date, as the Upgrade tab and the run's
    blockers count them. Due today counts: a renewal whose card was declined is due on the
    day it was issued."""
    return Invoice.objects.filter(
        tenant=tenant, state=Invoice.State.UNPAID, due_date__lte=today
    ).count()


def eligibility_snapshot_build(
    *,
    tenant: Tenant,
    subscription: Subscription,
    can_purchase: bool,
    purchase_limited_by_token: bool = False,
) -> EligibilitySnapshot:
    """The facts eligibility needs, in a fixed number of queries whatever the tenant's size."""
    now = clock.now()
    source = (
        Subscription.objects.select_related("product")
        .annotate(assigned=Count("assignments"))
        .get(pk=subscription.pk, tenant=tenant)
    )
    addons = list(
        Subscription.objects.filter(parent=source)
        .exclude(status__in=[Status.DISABLED, Status.DELETED])
        .select_related("product")
        .order_by("product__sort_order", "pk")
    )
    set_up = (source.ready_at is None or source.ready_at <= now) and all(
        a.status != Status.PROVISIONING for a in addons
    )
    paths = list(
        UpgradePath.objects.filter(source=source.product)
        .select_related("target")
        .prefetch_related("target__includes", "target__accepts")
        .order_by("target__sort_order")
    )
    counts = Tenant.objects.filter(pk=tenant.pk).aggregate(
        same_product=Count(
            "subscriptions",
            filter=Q(
                subscriptions__product=source.product,
                subscriptions__status__in=LIVE_STATUSES,
                subscriptions__parent__isnull=True,
            ),
            distinct=True,
        ),
    )
    overdue = overdue_invoices_count(tenant=tenant, today=now.date())
    incident = ServiceIncident.objects.filter(
        Q(tenant=tenant) | Q(tenant__isnull=True), resolved_at__isnull=True
    ).exists()
    # A run waiting for its window does not load the service: it is not in the queue depth.
    runs = UpgradeRun.objects.filter(ACTIVE_RUN).aggregate(
        depth=Count("pk", filter=~Q(state=RunState.SCHEDULED)),
        tenant_runs=Count("pk", filter=Q(tenant=tenant)),
    )
    tenant_run_state = None
    if runs["tenant_runs"]:
        tenant_run_state = (
            UpgradeRun.objects.filter(ACTIVE_RUN, tenant=tenant).values_list("state", flat=True)
        ).first()
    return EligibilitySnapshot(
        product_code=source.product.code,
        product_name=source.product.name,
        is_addon=source.is_addon,
        status=source.status,
        channel=source.channel,
        is_trial=source.is_trial,
        is_prepaid=source.is_prepaid,
        offer=source.offer,
        quantity=source.quantity,
        assigned=source.assigned,
        set_up=set_up,
        open_incident=incident,
        tenant_run_state=tenant_run_state,
        same_product_count=counts["same_product"] if not source.is_addon else 1,
        overdue_invoices=overdue,
        queue_depth=runs["depth"],
        queue_threshold=settings.PORTAL_UPGRADE_QUEUE_THRESHOLD,
        can_purchase=can_purchase,
        purchase_limited_by_token=purchase_limited_by_token,
        source_services=frozenset(source.product.services),
        addons=tuple(AddonFacts(a.pk, a.product.code, a.product.name) for a in addons),
        targets=tuple(
            TargetFacts(
                code=p.target.code,
                name=p.target.name,
                seat_cap=p.target.seat_cap,
                services=frozenset(p.target.services),
                includes=frozenset(x.code for x in p.target.includes.all()),
                accepts=frozenset(x.code for x in p.target.accepts.all()),
            )
            for p in paths
        ),
        service_names=service_names(),
    )


def eligibility_for(*, access, subscription: Subscription) -> Eligibility:
    """What the Upgrade tab shows to this admin for this subscription."""
    can_purchase = access.can(Cap.PURCHASE)
    # An API token's access narrows its admin's role (portal.api.auth.TokenAccess).
    role_can_purchase = Cap.PURCHASE in access.role_caps
    snapshot = eligibility_snapshot_build(
        tenant=access.tenant,
        subscription=subscription,
        can_purchase=can_purchase,
        purchase_limited_by_token=role_can_purchase and not can_purchase,
    )
    return eligibility_evaluate(snapshot)


def upgrade_run_get(*, tenant: Tenant, pk: int) -> UpgradeRun:
    return get_object_or_404(
        UpgradeRun.objects.select_related(
            "tenant", "source__product", "target", "new_subscription__product", "order"
        ),
        tenant=tenant,
        pk=pk,
    )


def upgrade_run_access_get(*, user, slug: str, run_id: int) -> tuple[TenantAccess, UpgradeRun]:
    """The run and the caller's access to its tenant, read in one query (the status poll's:
    with the session from the cache and the user, it is the poll's second and last). 404 for
    a run of another tenant and for a tenant the caller may not see, as tenant_access_get."""
    if not user.is_authenticated:
        raise Http404
    role = Membership.objects.filter(user=user, tenant_id=OuterRef("tenant_id")).values("role")
    # Only what the poll's fragment shows is joined: planning each further join cost more
    # than running the whole query (the whole page reads the order when it needs it).
    run = (
        UpgradeRun.objects.select_related("tenant", "source__product", "target")
        .annotate(caller_role=Subquery(role[:1]))
        .filter(pk=run_id, tenant__slug=slug)
        .order_by()
        .first()
    )
    if run is None or (run.caller_role is None and not is_support(user)):
        raise Http404
    return TenantAccess(user=user, tenant=run.tenant, role=run.caller_role), run


def upgrade_run_list(*, tenant: Tenant | None = None, state: str | None = None, active=None):
    """Runs, newest first. Support tools pass tenant=None to see every tenant's runs."""
    runs = UpgradeRun.objects.select_related("tenant", "source__product", "target", "order")
    if tenant is not None:
        runs = runs.filter(tenant=tenant)
    if state is not None:
        runs = runs.filter(state=state)
    if active is True:
        runs = runs.filter(ACTIVE_RUN)
    elif active is False:
        runs = runs.exclude(ACTIVE_RUN)
    return runs.order_by("-placed_at", "-pk")


def upgrade_run_invoices(*, run: UpgradeRun) -> list[dict]:
    """The order's invoices and credit notes, oldest first, with their totals (one query)."""
    rows = (
        Invoice.objects.filter(order_id=run.order_id)
        .annotate(amount=Sum("lines__amount"))
        .order_by("issued_at", "pk")
        .values("number", "state", "amount", "issued_at")
    )
    states = dict(Invoice.State.choices)
    return [{**row, "state_label": states[row["state"]]} for row in rows]


def upgrade_run_events(*, run: UpgradeRun):
    return run.events.select_related("actor").order_by("at", "pk")


def upgrade_run_for_subscription(*, subscription: Subscription) -> UpgradeRun | None:
    """The latest run that upgraded from or to this subscription (for its status link)."""
    return (
        UpgradeRun.objects.filter(
            Q(source_id=subscription.pk) | Q(new_subscription_id=subscription.pk),
            tenant_id=subscription.tenant_id,
        )
        .order_by("-placed_at", "-pk")
        .first()
    )


def upgrade_cart_get(*, tenant: Tenant, pk: int) -> UpgradeCart:
    return get_object_or_404(
        UpgradeCart.objects.select_related(
            "source__product", "target", "order", "tenant", "tenant__billing_profile"
        ),
        tenant=tenant,
        pk=pk,
    )


def upgrade_addon_list(*, source: Subscription):
    return (
        Subscription.objects.filter(parent=source)
        .exclude(status__in=[Status.DISABLED, Status.DELETED])
        .select_related("product")
        .annotate(assigned=Count("assignments"))
        .order_by("product__sort_order", "pk")
    )


def runs_stalled(*, before):
    """Active runs that should be moving but whose heartbeat is older than `before` (a run
    waiting for its window or a credit check is not moving on purpose)."""
    return UpgradeRun.objects.filter(ACTIVE_RUN, heartbeat_at__lt=before).exclude(
        state__in=[RunState.AWAITING_CREDIT_CHECK, RunState.SCHEDULED]
    )


def runs_due(*, now):
    """Scheduled runs whose maintenance window has begun at `now` (the clock's)."""
    return UpgradeRun.objects.filter(state=RunState.SCHEDULED, scheduled_for__lte=now).order_by(
        "scheduled_for", "pk"
    )


def upgrade_run_scheduled_get(*, tenant: Tenant) -> UpgradeRun | None:
    """The tenant's upgrade waiting for its maintenance window, if any (one query): what the
    banner on every admin page and the Upgrade tab show."""
    return (
        UpgradeRun.objects.filter(tenant=tenant, state=RunState.SCHEDULED)
        .select_related("tenant", "source__product", "target", "order")
        .order_by()
        .first()
    )


def runs_past_credit_deadline(*, now):
    pending = CreditCheck.objects.filter(
        order=OuterRef("order"), state=CreditCheck.State.PENDING, deadline__lte=now
    )
    return UpgradeRun.objects.filter(state="awaiting_credit_check").filter(Exists(pending))


def upgrade_target_prices(*, tenant: Tenant, codes) -> dict[str, Decimal]:
    """Each target's list price per license per month in the tenant's currency, in one query
    (a product without a price in that currency is left out)."""
    codes = list(codes)
    if not codes:
        return {}
    rows = Price.objects.filter(product__code__in=codes, currency=tenant.currency)
    return dict(rows.values_list("product__code", "monthly"))
