from dataclasses import dataclass

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from billing.models import AddonScope, Status, Subscription
from portal.models import Tenant

from .models import DirectoryUser, LicenseAssignment

PAGE_SIZE = 50


@dataclass
class UserPage:
    users: list
    next_after: int | None
    prev_before: int | None


def _keyset_anchor(tenant: Tenant, pk: int | None) -> tuple[str, int] | None:
    if not pk:
        return None
    name = (
        DirectoryUser.objects.filter(tenant=tenant, pk=pk).values_list("display_name", flat=True)
    ).first()
    return None if name is None else (name, pk)


def _matching(tenant: Tenant, query: str):
    users = DirectoryUser.objects.filter(tenant=tenant)
    if query:
        # Prefix search: UPPER(col) LIKE 'Q%' uses the (tenant, UPPER(col) pattern_ops) indexes.
        users = users.filter(Q(display_name__istartswith=query) | Q(upn__istartswith=query))
    return users


def directory_user_page(
    *,
    tenant: Tenant,
    query: str = "",
    after: int | tuple[str, int] | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
):
    """One page of the tenant's users, ordered by name, by keyset (name, id) so that page 2,000
    costs what page 1 does. A query matches the start of the display name or the UPN.
    `after` / `before` is the id of the last / first user of the neighbouring page (or, for
    `after`, a (name, id) pair). Returns the list of users of the page."""
    return directory_user_page_with_links(
        tenant=tenant, query=query, after=after, before=before, limit=limit
    ).users


def directory_user_page_with_links(
    *,
    tenant: Tenant,
    query: str = "",
    after: int | tuple[str, int] | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> UserPage:
    users = _matching(tenant, query)
    anchor_after = after if isinstance(after, tuple) else _keyset_anchor(tenant, after)
    anchor_before = None if anchor_after else _keyset_anchor(tenant, before)
    if anchor_before is not None:
        name, pk = anchor_before
        users = users.filter(Q(display_name__lt=name) | Q(display_name=name, id__lt=pk))
        users = users.order_by("-display_name", "-id")
    else:
        if anchor_after is not None:
            name, pk = anchor_after
            users = users.filter(Q(display_name__gt=name) | Q(display_name=name, id__gt=pk))
        users = users.order_by("display_name", "id")
    licenses = LicenseAssignment.objects.select_related("subscription__product").order_by(
        "subscription__product__sort_order", "subscription_id"
    )
    rows = list(
        users.only("id", "display_name", "upn", "department").prefetch_related(
            Prefetch("licenses", queryset=licenses)
        )[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if anchor_before is not None:
        rows.reverse()
        has_next, has_prev = True, more
    else:
        has_next, has_prev = more, anchor_after is not None
    return UserPage(
        users=rows,
        next_after=rows[-1].pk if rows and has_next else None,
        prev_before=rows[0].pk if rows and has_prev else None,
    )


def assigned_count(*, subscription: Subscription) -> int:
    return LicenseAssignment.objects.filter(subscription=subscription).count()


def license_subscription_list(*, tenant: Tenant) -> list[Subscription]:
    """The tenant's subscriptions that carry per-user licenses (plans and per-user add-ons), with
    `assigned` counted by an index-only subquery per subscription (not a join over every
    assignment), and `free` and `in_conflict` worked out."""
    assigned = (
        LicenseAssignment.objects.filter(subscription=OuterRef("pk"))
        .order_by()
        .values("subscription")
        .annotate(n=Count("*"))
        .values("n")
    )
    rows = list(
        Subscription.objects.filter(tenant=tenant)
        .exclude(status=Status.DELETED)
        .exclude(product__addon_scope=AddonScope.TENANT)
        .select_related("product", "parent__product")
        .annotate(assigned=Coalesce(Subquery(assigned), 0))
        .order_by("is_addon", "product__sort_order", "pk")
    )
    for row in rows:
        row.free = max(row.quantity - row.assigned, 0)
        row.excess = row.assigned - row.quantity
        row.in_conflict = row.excess > 0
        row.assignable = row.status == Status.ACTIVE
    return rows


def license_holder_list(*, tenant: Tenant, subscription: Subscription, limit: int = PAGE_SIZE):
    """The first users (by name) holding a license of the subscription."""
    return list(
        DirectoryUser.objects.filter(tenant=tenant, licenses__subscription=subscription)
        .order_by("display_name", "id")
        .only("id", "display_name", "upn")[:limit]
    )
