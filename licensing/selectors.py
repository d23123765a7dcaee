from django.db.models import Prefetch

from portal.models import Tenant

from .models import DirectoryUser, LicenseAssignment

PAGE_SIZE = 50


def directory_user_page(
    *, tenant: Tenant, query: str = "", after: tuple[str, int] | None = None, limit: int = PAGE_SIZE
):
    """One page of the tenant's users, ordered by name, by keyset (name, id) so that page 2,000
    costs what page 1 does. A query matches the start of the display name or the UPN."""
    users = DirectoryUser.objects.filter(tenant=tenant)
    if query:
        users = users.filter(display_name__istartswith=query) | users.filter(upn__istartswith=query)
    if after is not None:
        name, pk = after
        from django.db.models import Q

        users = users.filter(Q(display_name__gt=name) | Q(display_name=name, id__gt=pk))
    licenses = LicenseAssignment.objects.select_related("subscription__product")
    return list(
        users.order_by("display_name", "id").prefetch_related(
            Prefetch("licenses", queryset=licenses)
        )[:limit]
    )
