"""The maintenance window: choose it at checkout, cancel or move a scheduled upgrade."""

from django.http import Http404


def upgrade_run_cancel(request, **kwargs):  # placeholder until scheduling lands
    raise Http404


def upgrade_run_reschedule(request, **kwargs):  # placeholder until scheduling lands
    raise Http404
