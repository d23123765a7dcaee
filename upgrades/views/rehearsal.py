"""Rehearse this upgrade: what the run would do, computed without changing anything."""

from django.http import Http404


def upgrade_rehearsal(request, **kwargs):  # placeholder until the rehearsal lands
    raise Http404
