from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .access import tenant_view
from .htmx import page_or_partial
from .models import Role
from .roles import is_support


@login_required
def home(request):
    """Every tenant the signed-in admin can open (support engineers: all of them)."""
    memberships = list(selectors.membership_list_for_user(user=request.user))
    if len(memberships) == 1 and not is_support(request.user):
        return redirect("tenant_home", tenant_slug=memberships[0].tenant.slug)
    tenants = (
        selectors.tenant_list_for_user(user=request.user).select_related("admin_lock")
        if is_support(request.user)
        else None
    )
    return render(request, "portal/home.html", {"memberships": memberships, "tenants": tenants})


def _role_label(access) -> str:
    """The signed-in admin's role as the admin center names it ("Global admin"), never its
    stored code; a support engineer has no role in the tenant."""
    if access.role in Role.values:
        return Role(access.role).label
    return _("Support engineer") if access.is_support else _("No role")


@tenant_view()
def tenant_home(request):
    tenant = request.tenant
    return render(
        request,
        "portal/tenant_home.html",
        {
            "incidents": selectors.incident_open_list(tenant=tenant),
            "notifications": selectors.notification_list(tenant=tenant, user=request.user, limit=5),
            "role_label": _role_label(request.access),
        },
    )


@tenant_view(lock_exempt=True)
def notifications(request):
    tenant = request.tenant
    return page_or_partial(
        request,
        "portal/notifications.html",
        {
            "notifications": selectors.notification_list(
                tenant=tenant, user=request.user, limit=100
            ),
            "unread": selectors.notification_unread_count(tenant=tenant, user=request.user),
            "keeps_read_state": not request.access.is_support,
        },
        partial="notification-list",
    )


@require_POST
@tenant_view(lock_exempt=True)
def notifications_mark_read(request):
    """Every notification of the tenant, read by this admin (and only by them)."""
    services.notification_mark_read(tenant=request.tenant, user=request.user)
    return redirect("notifications", tenant_slug=request.tenant.slug)


@require_POST
@tenant_view(lock_exempt=True)
def notification_mark_read(request, notification_id):
    notification = selectors.notification_get(tenant=request.tenant, pk=notification_id)
    services.notification_mark_read(
        tenant=request.tenant, user=request.user, notification_ids=[notification.pk]
    )
    return redirect("notifications", tenant_slug=request.tenant.slug)
