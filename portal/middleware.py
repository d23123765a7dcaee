from django.shortcuts import render
from django_htmx.http import HttpResponseClientRedirect

from .models import AdminLock


class AdminLockMiddleware:
    """While a tenant is admin-locked its admins see "upgrade in progress" (HTTP 423) on every
    tenant page (a view made by tenant_view) but those marked lock_exempt. Support engineers are
    never locked (the lock is looked up through the user's own memberships). The API answers
    the lock itself, as JSON, in its authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("tenant_slug")
        user = request.user
        if not getattr(view_func, "admin_lockable", False) or not slug or not user.is_authenticated:
            return None
        lock = (
            AdminLock.objects.filter(tenant__slug=slug, tenant__memberships__user=user)
            .select_related("tenant")
            .first()
        )
        if lock is None:
            return None
        return render(
            request, "portal/locked.html", {"lock": lock, "message": lock.message}, status=423
        )


class HtmxLoginRedirectMiddleware:
    """A polling fragment whose session expired gets a client redirect to the sign-in page
    instead of the sign-in page swapped into the fragment."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response.get("Location", "").startswith("/accounts/login")
        ):
            return HttpResponseClientRedirect(response["Location"])
        return response
