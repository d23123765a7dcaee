from django.db.models import Count, Prefetch, Q

from portal.models import Tenant

from .models import Product, Status, Subscription

STATUS_FILTERS = {
    "active": [Status.ACTIVE, Status.PROVISIONING],
    "expired": [Status.EXPIRED],
    "disabled": [Status.DISABLED],
    "all": [Status.PROVISIONING, Status.ACTIVE, Status.EXPIRED, Status.DISABLED],
}


def subscription_list(*, tenant: Tenant, status: str = "all"):
    """The tenant's base subscriptions with their add-ons and assigned-license counts.
    Constant query count whatever the tenant's size."""
    statuses = STATUS_FILTERS.get(status, STATUS_FILTERS["all"])
    addons = (
        Subscription.objects.filter(tenant=tenant)
        .exclude(status=Status.DELETED)
        .select_related("product")
        .annotate(assigned=Count("assignments"))
    )
    return (
        Subscription.objects.filter(tenant=tenant, parent__isnull=True, status__in=statuses)
        .select_related("product")
        .annotate(assigned=Count("assignments"))
        .prefetch_related(Prefetch("addons", queryset=addons))
        .order_by("product__sort_order", "pk")
    )


def subscription_get(*, tenant: Tenant, pk: int) -> Subscription:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(
        Subscription.objects.select_related("product", "parent").annotate(
            assigned=Count("assignments")
        ),
        tenant=tenant,
        pk=pk,
    )


def product_list_on_sale():
    return Product.objects.filter(on_sale=True).prefetch_related("prices")


def product_get_by_code(*, code: str) -> Product:
    return Product.objects.get(code=code)


def addon_list(*, tenant: Tenant, base: Subscription):
    return base.addons.filter(~Q(status=Status.DELETED)).select_related("product")
