"""Contact support: a request tied to the subscription or run it is about."""

from django.http import Http404


def support_request_create(request, **kwargs):  # placeholder until Contact support lands
    raise Http404
