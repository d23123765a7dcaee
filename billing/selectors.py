from decimal import Decimal

from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from portal.models import Tenant

from .models import (
    BillingProfile,
    CreditCheck,
    CreditEntry,
    Invoice,
    Order,
    Price,
    Product,
    ProductKind,
    Status,
    Subscription,
    SubscriptionLicenseTally,
)
from .pricing import money

STATUS_FILTERS = {
    "active": [Status.ACTIVE, Status.PROVISIONING],
    "expired": [Status.EXPIRED],
    "disabled": [Status.DISABLED],
    "all": [Status.PROVISIONING, Status.ACTIVE, Status.EXPIRED, Status.DISABLED],
}


MAX_KEY_LENGTH = Order._meta.get_field("idempotency_key").max_length


def _assigned_subquery():
    """Licenses assigned on each subscription: the tally the licensing app keeps by database
    triggers (one row per subscription), so a page reads it in O(1) whatever the tenant's size.
    Billing follows the relation by name and never imports licensing."""
    return Coalesce(F("license_tally__assigned"), 0)


def subscription_list(*, tenant: Tenant, status: str = "all"):
    """The tenant's base subscriptions with their add-ons and assigned-license counts.
    Constant query count whatever the tenant's size."""
    statuses = STATUS_FILTERS.get(status, STATUS_FILTERS["all"])
    addons = (
        Subscription.objects.filter(tenant=tenant)
        .exclude(status=Status.DELETED)
        .select_related("product")
        .annotate(assigned=_assigned_subquery())
        .order_by("product__sort_order", "pk")
    )
    return (
        Subscription.objects.filter(tenant=tenant, parent__isnull=True, status__in=statuses)
        .select_related("product")
        .annotate(assigned=_assigned_subquery())
        .prefetch_related(Prefetch("addons", queryset=addons))
        .order_by("product__sort_order", "pk")
    )


def subscription_get(*, tenant: Tenant, pk: int) -> Subscription:
    """One of the tenant's subscriptions (404 for anyone else's, and for deleted ones)."""
    return get_object_or_404(
        Subscription.objects.select_related("product", "parent__product")
        .exclude(status=Status.DELETED)
        .annotate(assigned=_assigned_subquery()),
        tenant=tenant,
        pk=pk,
    )


def subscription_status_history(*, subscription: Subscription, limit: int = 20):
    return subscription.status_history.select_related("actor").order_by("-at", "-pk")[:limit]


def plan_list_on_sale():
    return Product.objects.filter(on_sale=True, kind=ProductKind.PLAN).order_by(
        "sort_order", "name"
    )


def addon_list_for_base(*, base: Subscription):
    """Add-ons the base's plan accepts, on sale, that can be bought for it."""
    return base.product.accepts.filter(on_sale=True).order_by("sort_order", "name")


def addon_list(*, tenant: Tenant, base: Subscription):
    return (
        Subscription.objects.filter(tenant=tenant, parent=base)
        .filter(~Q(status=Status.DELETED))
        .select_related("product")
        .annotate(assigned=_assigned_subquery())
        .order_by("product__sort_order", "pk")
    )


def invoice_list(*, tenant: Tenant):
    """Every invoice and credit note of the tenant, newest first, with its total (one query)."""
    return (
        Invoice.objects.filter(tenant=tenant)
        .annotate(total_amount=Coalesce(Sum("lines__amount"), Decimal("0.00")))
        .order_by("-issued_at", "-pk")
    )


def invoice_get(*, tenant: Tenant, pk: int) -> Invoice:
    """One of the tenant's invoices with its lines, credit-balance entries and payments (404
    for anyone else's)."""
    return get_object_or_404(
        Invoice.objects.select_related("order", "tenant").prefetch_related(
            "lines", "credit_entries", "payments"
        ),
        tenant=tenant,
        pk=pk,
    )


def credit_balance(*, tenant: Tenant) -> Decimal:
    """The sum of the tenant's ledger: credit the tenant can still use."""
    total = CreditEntry.objects.filter(tenant=tenant).aggregate(total=Sum("amount"))["total"]
    return money(total or 0)


def credit_entry_list(*, tenant: Tenant):
    return (
        CreditEntry.objects.filter(tenant=tenant).select_related("invoice").order_by("-at", "-pk")
    )


def invoice_list_unpaid(*, tenant: Tenant):
    return Invoice.objects.filter(tenant=tenant, state=Invoice.State.UNPAID).order_by(
        "due_date", "pk"
    )


def order_get_by_key(*, tenant: Tenant, idempotency_key: str) -> Order | None:
    # A key no order can have (too long, or with a NUL byte PostgreSQL refuses) finds nothing.
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH or "\x00" in idempotency_key:
        return None
    return Order.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def order_get(*, tenant: Tenant, pk: int) -> Order:
    return get_object_or_404(
        Order.objects.select_related("subscription__product", "credit_check"), tenant=tenant, pk=pk
    )


def order_list_waiting(*, tenant: Tenant):
    """Purchase orders placed but waiting for their credit check."""
    return (
        Order.objects.filter(tenant=tenant, kind=Order.Kind.PURCHASE, state=Order.State.PLACED)
        .select_related("credit_check")
        .order_by("-placed_at")
    )


def billing_profile_get(*, tenant: Tenant) -> BillingProfile | None:
    """The tenant's "Billed to" details and card on file, if it has any yet."""
    return BillingProfile.objects.filter(tenant=tenant).first()


def credit_check_pending(*, tenant: Tenant) -> bool:
    return CreditCheck.objects.filter(tenant=tenant, state=CreditCheck.State.PENDING).exists()


def subscription_assigned_count(*, subscription) -> int:
    """Licenses assigned on the subscription, read from its tally (one row, whatever the
    tenant's size). Enforcing a rule with it needs the subscription's row lock (services)."""
    tally = SubscriptionLicenseTally.objects.filter(subscription=subscription).first()
    return tally.assigned if tally is not None else 0


def subscription_upgraded_to_map(*, tenant) -> dict[int, Subscription]:
    """For each subscription an upgrade replaced: the subscription it was upgraded to. The
    upgrade's order is billing's own record (an order of kind Upgrade, completed, its frozen
    snapshot naming the source), so billing learns this without importing upgrades. One query."""
    orders = (
        Order.objects.filter(
            tenant=tenant,
            kind=Order.Kind.UPGRADE,
            state=Order.State.COMPLETED,
            subscription__isnull=False,
        )
        .select_related("subscription__product")
        .order_by("placed_at", "pk")
    )
    replaced = {}
    for order in orders:
        source_id = (order.snapshot.get("source") or {}).get("id")
        if isinstance(source_id, int):
            replaced[source_id] = order.subscription
    return replaced


def subscription_upgraded_to(*, subscription) -> Subscription | None:
    """The subscription an upgrade replaced this one with, if one did (as
    subscription_upgraded_to_map, for one subscription: one query, and only for an expired or
    disabled plan, as an upgraded one is)."""
    if subscription.is_addon or subscription.status not in (Status.EXPIRED, Status.DISABLED):
        return None
    order = (
        Order.objects.filter(
            tenant_id=subscription.tenant_id,
            kind=Order.Kind.UPGRADE,
            state=Order.State.COMPLETED,
            subscription__isnull=False,
            snapshot__source__id=subscription.pk,
        )
        .select_related("subscription__product")
        .order_by("-placed_at", "-pk")
        .first()
    )
    return order.subscription if order else None


def product_list_with_prices(products, *, currency):
    """The products, each with its list price per unit (license or GB) per month in the
    tenant's currency and the same for a year billed yearly (twelve months up front), read
    in the products' own query: the Buy page shows every price at no extra query."""
    monthly = Price.objects.filter(product=OuterRef("pk"), currency=currency).values("monthly")
    return products.annotate(
        monthly_price=Subquery(monthly[:1]),
        yearly_price=ExpressionWrapper(
            Subquery(monthly[:1]) * 12, output_field=DecimalField(max_digits=12, decimal_places=2)
        ),
    )
