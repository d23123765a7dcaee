"""Reading ids and return addresses from a request without trusting them."""

from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme


def id_or_404(value) -> int | None:
    """An id from a query string or form: missing is None, anything but a whole number is a
    page that does not exist (like an unknown id), never a server error."""
    if not value:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404 from None


def next_url(request, default: str) -> str:
    """The `next` the request names, if it is a path on this site; `default` otherwise (no
    open redirects)."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default
