"""The report of a finished run: a printable page and a streamed CSV of every user moved."""

from django.http import Http404


def upgrade_report(request, **kwargs):  # placeholder until the report lands
    raise Http404


def upgrade_report_csv(request, **kwargs):  # placeholder until the report lands
    raise Http404
