"""The gate in front of every tenant page: login, tenant scoping (404 for another tenant's
data) and the capability the page needs (403 with a reason when the role lacks it)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from .roles import Cap
from .selectors import tenant_access_get


def tenant_view(cap: Cap = Cap.VIEW, *, lock_exempt: bool = False, preload=None):
    """Decorate a view taking `tenant_slug`: sets request.access, checks the capability.
    lock_exempt views stay reachable while the tenant is admin-locked.

    `preload(user=, slug=, **url_kwargs)` reads the caller's access together with the one
    object the view shows, in one query, and returns (access, object): the view is then called
    as view(request, object). For the few requests whose query count is pinned (the status
    poll); it must 404 exactly as tenant_access_get does."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, tenant_slug, *args, **kwargs):
            if preload is None:
                access = tenant_access_get(user=request.user, slug=tenant_slug)
            else:
                access, subject = preload(user=request.user, slug=tenant_slug, **kwargs)
                args, kwargs = (subject,), {}
            if not access.can(cap):
                raise PermissionDenied(_("Your admin role does not allow this action."))
            request.access = access
            request.tenant = access.tenant
            return view(request, *args, **kwargs)

        # Read by AdminLockMiddleware: only tenant pages are ever locked.
        wrapper.admin_lockable = not lock_exempt
        return wrapper

    return decorator
