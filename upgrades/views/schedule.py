"""The maintenance window: cancel or move a scheduled upgrade before it starts. (Choosing the
window is a section of checkout, in chain.py.) Both are Global and Billing admins' writes,
refused once the run has started: the page says why, with a 409, and nothing changes."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.formatting import money_text
from portal.roles import Cap

from .. import forms, selectors, services
from ..models import RunState
from .chain import WINDOW_ERRORS, _window_form


def _page(request, run, *, window_form=None, cancel_form=None, error="", status=200):
    scheduled = run.state == RunState.SCHEDULED
    if scheduled and window_form is None:
        window_form = _window_form(run, allow_now=False)
    return render(
        request,
        "upgrades/reschedule.html",
        {
            "run": run,
            "scheduled": scheduled,
            "window_form": window_form,
            "window_zone": services.window_zone(run.tenant.time_zone).key,
            "cancel_form": cancel_form or forms.RunCancelForm(),
            "error": error,
        },
        status=status,
    )


def _refused(request, run, error: DomainError):
    if error.code == "not_found":
        raise Http404 from error
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run.pk)  # as it is now
    return _page(request, run, error=error.message, status=409)


@tenant_view(Cap.PURCHASE)
def upgrade_run_reschedule(request, run_id):
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run_id)
    if request.method != "POST":
        return _page(request, run)
    window_form = _window_form(run, request.POST, allow_now=False)
    if not window_form.is_valid():
        return _page(request, run, window_form=window_form, status=400)
    try:
        run = services.upgrade_run_reschedule(
            tenant=request.tenant,
            actor=request.user,
            run_id=run.pk,
            scheduled_for=window_form.cleaned_data["scheduled_for"],
        )
    except DomainError as error:
        if error.code in WINDOW_ERRORS:
            window_form.add_error("date", error.message)
            return _page(request, run, window_form=window_form, status=400)
        return _refused(request, run, error)
    messages.success(
        request,
        _("The upgrade now starts %(when)s. The order's total is %(total)s.")
        % {
            "when": services.window_words(run.scheduled_for, time_zone=request.tenant.time_zone),
            "total": money_text(run.order.total, run.order.currency),
        },
    )
    return redirect("upgrade_status", request.tenant.slug, run.pk)


@require_POST
@tenant_view(Cap.PURCHASE)
def upgrade_run_cancel(request, run_id):
    run = selectors.upgrade_run_get(tenant=request.tenant, pk=run_id)
    cancel_form = forms.RunCancelForm(request.POST)
    if not cancel_form.is_valid():
        return _page(request, run, cancel_form=cancel_form, status=400)
    try:
        run = services.upgrade_run_cancel(
            tenant=request.tenant,
            actor=request.user,
            run_id=run.pk,
            reason=cancel_form.cleaned_data["reason"],
        )
    except DomainError as error:
        return _refused(request, run, error)
    messages.success(request, _("The scheduled upgrade was cancelled. Nothing was charged."))
    return redirect("upgrade_status", request.tenant.slug, run.pk)
