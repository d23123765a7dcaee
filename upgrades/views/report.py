"""The report of a finished run: a printable page and a streamed CSV of every user moved.

Both are readable by every admin role of the tenant and by support, while the tenant is
locked too (as the status page is: a report is a read of a run that has ended). A run that
has not ended has no report yet: its status page says what is happening."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from portal.access import tenant_view

from .. import report


def _not_finished(request, run):
    messages.info(
        request, _("The report is ready once the upgrade has ended. Its progress is shown here.")
    )
    return redirect("upgrade_status", request.tenant.slug, run.pk)


@tenant_view(lock_exempt=True)
def upgrade_report(request, run_id):
    run = report.report_run_get(tenant=request.tenant, pk=run_id)
    if not report.report_available(run):
        return _not_finished(request, run)
    context = report.report_build(run=run)
    context["printable"] = request.GET.get("print") == "1"
    return render(request, "upgrades/report.html", context)


@tenant_view(lock_exempt=True)
def upgrade_report_csv(request, run_id):
    run = report.report_run_get(tenant=request.tenant, pk=run_id)
    if not report.report_available(run):
        return _not_finished(request, run)
    return report.report_csv_response(run)
