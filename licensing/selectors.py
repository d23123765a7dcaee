from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, Q
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


def directory_user_page_with_links(
    *,
    tenant: Tenant,
    query: str = "",
    after: int | tuple[str, int] | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> UserPage:
    """The Users page: one page of the tenant's users, ordered by name by keyset (name, id) so
    that page 2,000 costs what page 1 does, plus the links to the neighbouring pages. A query
    matches the start of the display name or the UPN. `after` / `before` is the id of the last
    / first user of the neighbouring page (or, for `after`, a (name, id) pair). Each user
    carries `license_list`, [(subscription id, product name)], and `license_names` (joined for
    display), read in one narrow query:
    building full subscription and product objects for every row would cost more than
    every query of the page together."""
    page = _user_page(tenant=tenant, query=query, after=after, before=before, limit=limit)
    held: dict[int, list[tuple[int, str]]] = {}
    rows = (
        LicenseAssignment.objects.filter(user__in=[u.pk for u in page.users])
        .order_by("subscription__product__sort_order", "subscription_id")
        .values_list("user_id", "subscription_id", "subscription__product__name")
    )
    for user_id, subscription_id, name in rows:
        held.setdefault(user_id, []).append((subscription_id, name))
    for user in page.users:
        user.license_list = held.get(user.pk, [])
        user.license_names = ", ".join(name for _pk, name in user.license_list)
    return page


def _user_page(*, tenant, query, after, before, limit) -> UserPage:
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
    rows = list(users.only("id", "tenant_id", "display_name", "upn")[: limit + 1])
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


def license_subscription_list(*, tenant: Tenant) -> list[Subscription]:
    """The tenant's subscriptions that carry per-user licenses (plans and per-user add-ons), with
    `assigned` read from the trigger-kept tally, and `free` and `in_conflict` worked out."""
    rows = list(
        Subscription.objects.filter(tenant=tenant)
        .exclude(status=Status.DELETED)
        .exclude(product__addon_scope=AddonScope.TENANT)
        .select_related("product", "parent__product")
        .annotate(assigned=Coalesce(F("license_tally__assigned"), 0))
        .order_by("is_addon", "product__sort_order", "pk")
    )
    for row in rows:
        row.free = max(row.quantity - row.assigned, 0)
        row.excess = row.assigned - row.quantity
        row.in_conflict = row.excess > 0
        row.assignable = row.status == Status.ACTIVE
    return rows


def license_targets_in_tenant(
    *, tenant: Tenant, subscription_ids: Iterable[int], user_ids: Iterable[int]
) -> bool:
    """Whether every subscription (deleted ones aside) and every directory user named is the
    tenant's. The Users page asks before any rule of the change is checked, so that an id the
    tenant does not have (another tenant's, or none at all) answers 404 whatever else the
    request holds, and never a message that would tell the two apart."""
    subscription_ids, user_ids = set(subscription_ids), set(user_ids)
    subscriptions = (
        Subscription.objects.filter(tenant=tenant, pk__in=subscription_ids)
        .exclude(status=Status.DELETED)
        .count()
    )
    users = DirectoryUser.objects.filter(tenant=tenant, pk__in=user_ids).count()
    return subscriptions == len(subscription_ids) and users == len(user_ids)


def license_holder_list(*, tenant: Tenant, subscription: Subscription, limit: int = PAGE_SIZE):
    """The first users (by name) holding a license of the subscription."""
    return list(
        DirectoryUser.objects.filter(tenant=tenant, licenses__subscription=subscription)
        .order_by("display_name", "id")
        .only("id", "display_name", "upn")[:limit]
    )
