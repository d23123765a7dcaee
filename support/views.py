"""The support console: staff only, a 404 for everybody else (its URLs do not exist for a
tenant admin). Support engineers search tenants and upgrade runs, read a run's timeline, and
take a few audited actions, each with a written reason: decide a credit check, retry a failed
run, release a stuck admin lock, open and resolve service-health incidents, lift a sign-in
lockout."""

from functools import partial, wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from portal.errors import DomainError
from portal.htmx import is_fragment_request, page_or_partial
from portal.roles import is_support
from upgrades.help import support_topic_label
from upgrades.models import TERMINAL_STATES, RunState
from upgrades.selectors import upgrade_run_events

from . import selectors, services
from .forms import (
    CreditCheckDecisionForm,
    IncidentOpenForm,
    ReasonForm,
    RunSearchForm,
    SignInUnlockForm,
    SupportAnswerForm,
)
from .labels import audit_labelled, run_events_labelled


def support_view(view):
    """Support console pages: staff only, and a 404 for everybody else."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_support(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _reasoned_action(form, action) -> bool:
    """Every console action: a valid form (with its written reason) runs action(reason=...);
    a refusal becomes the form's error. True when the action was taken."""
    if not form.is_valid():
        return False
    try:
        action(reason=form.cleaned_data["reason"])
    except DomainError as error:
        form.add_error(None, error.message)
        return False
    return True


# --- Live pages -----------------------------------------------------------------------------
# The run page and the run lists poll with htmx while a run on them is active, as the admin's
# status page does: the same view renders the page, or for htmx its live partial; the partial
# of a finished state has no trigger, so polling stops there. Without JavaScript the pages are
# plain pages (reload to refresh).


def run_poll_every(state: str) -> str:
    """How often a page showing a run in this state asks again ("" once it is finished): a run
    waiting for its maintenance window changes rarely."""
    if state in TERMINAL_STATES:
        return ""
    return "30s" if state == RunState.SCHEDULED else "1s"


def runs_poll_every(runs) -> str:
    """How often a list of runs asks again: every 2 s while one works or waits for a credit
    check, every 30 s while the active ones all wait for their window, never once all ended."""
    everies = {run_poll_every(run.state) for run in runs} - {""}
    if "1s" in everies:
        return "2s"
    return "30s" if everies else ""


# --- Upgrade runs --------------------------------------------------------------------------


def _run_actions(state: str) -> str:
    """Which action form the run page shows: the poll reloads the whole page when it changes
    (the forms sit outside the polled part, so a reason being typed is never swapped away)."""
    if state == RunState.AWAITING_CREDIT_CHECK:
        return "decide"
    if state == RunState.FAILED:
        return "retry"
    return ""


def _run_live_context(run) -> dict:
    """What the polled part of the run page shows: the summary, the timeline and the audit
    events, in a fixed number of queries (the run with its tenant's lock, the credit check,
    the state changes, the audit events)."""
    return {
        "run": run,
        "poll_every": run_poll_every(run.state),
        "events": run_events_labelled(upgrade_run_events(run=run)),
        "credit_check": selectors.support_run_credit_check(run=run),
        "audit": audit_labelled(selectors.support_run_audit(run=run), tenant_slug=run.tenant.slug),
        "lock": getattr(run.tenant, "admin_lock", None),
    }


def _render_run(request, run, *, status=200, **forms):
    # A refused action's own form may not be shown any more (the run moved on): its
    # errors go at the top of the page too.
    refused = [str(e) for form in forms.values() for e in form.non_field_errors()]
    context = {
        **_run_live_context(run),
        "refused": refused,
        "decision_form": forms.get("decision_form") or CreditCheckDecisionForm(),
        "retry_form": forms.get("retry_form") or ReasonForm(),
        "awaiting": run.state == RunState.AWAITING_CREDIT_CHECK,
        "failed": run.state == RunState.FAILED,
        "support_requests": selectors.support_run_requests(run=run),
    }
    return render(request, "support/run.html", context, status=status)


@support_view
def console(request):
    """The console's home; its live partial (the runs in progress, waiting for a credit check
    and failed) is what its poll fetches: three queries and the user."""
    live = {
        "running": list(selectors.support_running_runs()),
        "waiting": list(selectors.support_run_search(state=RunState.AWAITING_CREDIT_CHECK)),
        "failed": list(selectors.support_run_search(state=RunState.FAILED)[:20]),
    }
    live["poll_every"] = runs_poll_every([*live["running"], *live["waiting"]])
    if is_fragment_request(request):
        return page_or_partial(request, "support/console.html", live, partial="console-runs")
    query = request.GET.get("q", "").strip()[:100]
    context = {
        **live,
        "q": query,
        "tenants": selectors.support_tenant_search(query=query),
        "locks": selectors.support_lock_list(),
        "incidents": selectors.support_incident_list(open_only=True),
        "scheduled": selectors.support_scheduled_runs(),
        "open_requests": selectors.support_request_open_count(),
    }
    return page_or_partial(request, "support/console.html", context, partial="console-runs")


@support_view
def run_search(request):
    """The run search; its poll (the same search, for htmx) fetches the table alone."""
    form = RunSearchForm(request.GET or None)
    runs = []
    if form.is_bound and form.is_valid():
        runs = selectors.support_run_search(
            tenant_query=form.cleaned_data["tenant"].strip(),
            state=form.cleaned_data["state"] or None,
            age=form.cleaned_data["age"] or None,
        )
    elif not form.is_bound:
        runs = selectors.support_run_search()
    runs = list(runs)
    context = {"form": form, "runs": runs, "poll_every": runs_poll_every(runs)}
    return page_or_partial(request, "support/runs.html", context, partial="runs-live")


@support_view
def run_detail(request, run_id):
    """The run's page, and the part its poll fetches every second while the run is active:
    five queries (the user, the run, its credit check, its state changes and its audit
    events), whatever the tenant's size. When the action the page offers changes (the run
    now waits for a credit check, or failed), the poll has the whole page loaded again."""
    run = selectors.support_run_get(pk=run_id)
    if not is_fragment_request(request):
        response = _render_run(request, run)
    elif _run_actions(request.GET.get("shown", run.state)) != _run_actions(run.state):
        response = HttpResponseClientRefresh()
    else:
        context = _run_live_context(run)
        return page_or_partial(request, "support/run.html", context, partial="run-live")
    # The page and the fragment share a URL: a cache must tell them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


@support_view
@require_POST
def run_credit_check(request, run_id):
    run = selectors.support_run_get(pk=run_id)
    form = CreditCheckDecisionForm(request.POST)

    def decide(reason):
        services.support_credit_check_decide(
            run=run, approve=approved(), actor=request.user, reason=reason
        )

    def approved():
        return form.cleaned_data["decision"] == "approve"

    if _reasoned_action(form, decide):
        messages.success(
            request,
            _("Credit check approved: the upgrade continues.")
            if approved()
            else _("Credit check declined: nothing was charged and the lock is released."),
        )
        return redirect("support_run", run_id=run.pk)
    return _render_run(request, run, status=400, decision_form=form)


@support_view
@require_POST
def run_retry(request, run_id):
    run = selectors.support_run_get(pk=run_id)
    form = ReasonForm(request.POST)
    retry = partial(services.support_run_retry, run=run, actor=request.user)
    if _reasoned_action(form, retry):
        messages.success(request, _("The upgrade starts again from buying the new plan."))
        return redirect("support_run", run_id=run.pk)
    return _render_run(request, run, status=400, retry_form=form)


def _render_tenant(request, tenant, *, status=200, release_form=None):
    runs = list(selectors.support_tenant_runs(tenant=tenant))
    return render(
        request,
        "support/tenant.html",
        {
            "tenant": tenant,
            "lock": getattr(tenant, "admin_lock", None),
            "runs": runs,
            "poll_every": runs_poll_every(runs),
            "incidents": selectors.support_tenant_incidents(tenant=tenant),
            "billing": selectors.support_tenant_billing(tenant=tenant),
            "audit": audit_labelled(
                selectors.support_tenant_audit(tenant=tenant), tenant_slug=tenant.slug
            ),
            "release_form": release_form or ReasonForm(),
        },
        status=status,
    )


@support_view
def tenant_detail(request, tenant_slug):
    """The tenant's page; its poll fetches the tenant's runs alone while one is active."""
    tenant = selectors.support_tenant_get(slug=tenant_slug)
    if is_fragment_request(request):
        runs = list(selectors.support_tenant_runs(tenant=tenant))
        context = {"tenant": tenant, "runs": runs, "poll_every": runs_poll_every(runs)}
        return page_or_partial(request, "support/tenant.html", context, partial="tenant-runs")
    response = _render_tenant(request, tenant)
    patch_vary_headers(response, ("HX-Request",))
    return response


@support_view
@require_POST
def lock_release(request, tenant_slug):
    tenant = selectors.support_tenant_get(slug=tenant_slug)
    form = ReasonForm(request.POST)
    release = partial(services.support_lock_release, tenant=tenant, actor=request.user)
    if _reasoned_action(form, release):
        messages.success(request, _("Lock released: the organisation's admins can sign in."))
        return redirect("support_tenant", tenant_slug=tenant.slug)
    return _render_tenant(request, tenant, status=400, release_form=form)


def _render_incidents(
    request, *, status=200, open_form=None, resolve_error_for=None, resolve_errors=()
):
    return render(
        request,
        "support/incidents.html",
        {
            "incidents": selectors.support_incident_list(),
            "open_form": open_form or IncidentOpenForm(),
            "resolve_error_for": resolve_error_for,
            "resolve_errors": resolve_errors,
        },
        status=status,
    )


@support_view
def incidents(request):
    if request.method != "POST":
        return _render_incidents(request)
    form = IncidentOpenForm(request.POST)
    if form.is_valid():
        tenant = None
        slug = form.cleaned_data["tenant"]
        if slug:
            try:
                tenant = selectors.support_tenant_get(slug=slug)
            except Http404:
                form.add_error("tenant", _("No organisation has that short name."))
        if not form.errors:
            try:
                services.support_incident_open(
                    tenant=tenant,
                    title=form.cleaned_data["title"],
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _(
                        "Incident opened: Upgrade tabs show the temporary reason until it is "
                        "resolved."
                    ),
                )
                return redirect("support_incidents")
    return _render_incidents(request, status=400, open_form=form)


@support_view
@require_POST
def incident_resolve(request, incident_id):
    incident = selectors.support_incident_get(pk=incident_id)
    form = ReasonForm(request.POST)
    resolve = partial(services.support_incident_resolve, incident=incident, actor=request.user)
    if _reasoned_action(form, resolve):
        messages.success(request, _("Incident resolved."))
        return redirect("support_incidents")
    errors = [str(e) for e in form.non_field_errors()] + [
        str(e) for e in form.errors.get("reason", [])
    ]
    return _render_incidents(
        request, status=400, resolve_error_for=incident.pk, resolve_errors=errors
    )


def _render_signin_lockouts(request, *, status=200, refused=()):
    return render(
        request,
        "support/signin_lockouts.html",
        {"lockouts": selectors.support_signin_lockout_list(), "refused": refused},
        status=status,
    )


@support_view
def signin_lockouts(request):
    return _render_signin_lockouts(request)


@support_view
@require_POST
def signin_unlock(request):
    form = SignInUnlockForm(request.POST)

    def unlock(reason):
        services.support_signin_unlock(
            kind=form.cleaned_data["kind"],
            subject=form.cleaned_data["subject"],
            actor=request.user,
            reason=reason,
        )

    if _reasoned_action(form, unlock):
        messages.success(
            request,
            _("Unlocked: %(subject)s can sign in again.")
            % {"subject": form.cleaned_data["subject"]},
        )
        return redirect("support_signin_lockouts")
    refused = [str(e) for errors in form.errors.values() for e in errors]
    return _render_signin_lockouts(request, status=400, refused=refused)


# --- Support requests ----------------------------------------------------------------------


@support_view
def support_requests(request):
    queue = {name: list(items) for name, items in selectors.support_request_queue().items()}
    for item in (*queue["open"], *queue["answered"]):
        item.topic_label = support_topic_label(item.topic)
    return render(request, "support/requests.html", queue)


def _render_request(request, support_request, *, status=200, answer_form=None):
    return render(
        request,
        "support/request.html",
        {
            "item": support_request,
            "topic": support_topic_label(support_request.topic),
            "answer_form": answer_form or SupportAnswerForm(),
        },
        status=status,
    )


@support_view
def support_request_detail(request, support_request_id):
    return _render_request(request, selectors.support_request_get(pk=support_request_id))


@support_view
@require_POST
def support_request_answer(request, support_request_id):
    item = selectors.support_request_get(pk=support_request_id)
    form = SupportAnswerForm(request.POST)
    if form.is_valid():
        try:
            services.support_request_answer(
                support_request=item, actor=request.user, answer=form.cleaned_data["answer"]
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request, _("Answer sent: the organisation's admins get it as a notification.")
            )
            return redirect("support_request", support_request_id=item.pk)
    return _render_request(request, item, status=400, answer_form=form)
