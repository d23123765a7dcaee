from django.db.models import Exists, OuterRef, Q
from django.http import Http404

from .models import (
    AdminLock,
    Membership,
    Notification,
    NotificationRead,
    ServiceIncident,
    Tenant,
)
from .roles import caps_for, is_support


class TenantAccess:
    """The acting admin inside one tenant: who, where, and what they may do."""

    def __init__(self, *, user, tenant: Tenant, role: str | None):
        self.user = user
        self.tenant = tenant
        self.role = role
        self.is_support = is_support(user) and role is None
        # What the role allows; `caps` is what this access may do (an API token narrows it).
        self.role_caps = caps_for(role, is_support=self.is_support)
        self.caps = self.role_caps

    def can(self, cap) -> bool:
        return cap in self.caps


def tenant_list_for_user(*, user):
    if is_support(user):
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user).distinct()


def membership_list_for_user(*, user):
    return (
        Membership.objects.filter(user=user)
        .select_related("tenant", "tenant__admin_lock")
        .order_by("tenant__name")
    )


def tenant_access_get(*, user, slug: str) -> TenantAccess:
    """The caller's access to a tenant, or 404: another tenant's data is never acknowledged."""
    if not user.is_authenticated:
        raise Http404
    membership = (
        Membership.objects.filter(user=user, tenant__slug=slug).select_related("tenant").first()
    )
    if membership is not None:
        return TenantAccess(user=user, tenant=membership.tenant, role=membership.role)
    if is_support(user):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is not None:
            return TenantAccess(user=user, tenant=tenant, role=None)
    raise Http404


def admin_lock_get(*, tenant_slug: str) -> AdminLock | None:
    return AdminLock.objects.filter(tenant__slug=tenant_slug).select_related("tenant").first()


def incident_open_list(*, tenant: Tenant):
    return ServiceIncident.objects.filter(
        Q(tenant=tenant) | Q(tenant__isnull=True), resolved_at__isnull=True
    ).order_by("-opened_at")


def notification_list(*, tenant: Tenant, user, limit: int = 20):
    """The tenant's latest notifications, each with `is_read` for this admin (a support
    engineer, who keeps no read state, reads them all as unread)."""
    return Notification.objects.filter(tenant=tenant).annotate(
        is_read=Exists(NotificationRead.objects.filter(notification=OuterRef("pk"), user=user))
    )[:limit]


def notification_unread_count(*, tenant: Tenant, user) -> int:
    return Notification.objects.filter(tenant=tenant).exclude(reads__user=user).count()


def notification_get(*, tenant: Tenant, pk: int) -> Notification:
    """One of the tenant's notifications, or 404."""
    notification = Notification.objects.filter(tenant=tenant, pk=pk).first()
    if notification is None:
        raise Http404
    return notification
