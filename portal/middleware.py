from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect

from .api.errors import error_response
from .models import AdminLock

# Where config/urls.py mounts the JSON API: its errors are answered as JSON.
API_PATH_PREFIX = "/api/"


class RequestSizeLimitMiddleware:
    """A request whose body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE (by its Content-Length)
    is answered 413 before anything reads it: the API's JSON `request_too_large`, or a line of
    text. Without this, a form post is answered 400 Bad Request (Django raises
    RequestDataTooBig, a SuspiciousOperation, when the CSRF check reads the body), and an API
    request 413 only after its token was checked. The whole body counts, multipart included
    (Django leaves uploaded files out of the limit, but no page of the portal takes a file).

    In MIDDLEWARE: after LocaleMiddleware (the message's language), before CsrfViewMiddleware
    (which reads the body)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # as Django reads it: a body it will not read
        if limit is None or length <= limit:
            return self.get_response(request)
        if request.path_info.startswith(API_PATH_PREFIX):
            return error_response(413, "request_too_large", _("The request body is too large."))
        return HttpResponse(
            _("The request is too large."), status=413, content_type="text/plain; charset=utf-8"
        )


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
