from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from . import selectors
from .roles import is_support


def support_view(view):
    """Support console pages: staff only, and a 404 for everybody else (its URLs do not
    exist for a tenant admin)."""

    @login_required
    def wrapper(request, *args, **kwargs):
        if not is_support(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


@support_view
def console(request):
    query = request.GET.get("q", "").strip()
    tenants = selectors.tenant_list_for_user(user=request.user).select_related("admin_lock")
    if query:
        tenants = tenants.filter(name__icontains=query)
    return render(request, "portal/support_console.html", {"tenants": tenants[:200], "q": query})
