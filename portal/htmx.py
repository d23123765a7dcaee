"""Rendering a page or, for htmx, one of its named partials (the django-htmx pattern).

Every view that answers htmx with a fragment goes through page_or_partial."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def is_fragment_request(request) -> bool:
    """htmx asks for a fragment to swap in (not a history restore, which needs the page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def page_or_partial(request, template: str, context: dict, *, partial: str, status: int = 200):
    """The partial for an htmx swap; the whole page otherwise. A history-restore request
    (htmx re-fetching a pushed URL it no longer has cached, e.g. after Back) needs the whole
    page, although it carries HX-Request. Vary: HX-Request keeps a browser or proxy cache from
    serving the fragment for a normal visit of the same URL."""
    if is_fragment_request(request):
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response
