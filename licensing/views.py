"""Users > Active users: search and page through the directory, select up to 20 users and
assign, unassign or replace licenses. Plain form posts redirect back to the same page (PRG);
htmx swaps the user panel."""

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from portal.access import tenant_view
from portal.errors import DomainError
from portal.htmx import page_or_partial
from portal.roles import Cap

from . import selectors, services
from .forms import LicenseActionForm

MAX_SEARCH = 100
# The form's fields that name a subscription (each action uses some of them).
SUBSCRIPTION_FIELDS = ("assign_to", "unassign_from", "replace_from", "replace_to")
# The services' refusals of a subscription or a user the tenant does not have (one deleted
# since the view looked): the same 404 as the view's own check.
NOT_IN_TENANT = frozenset({"not_found", "unknown_users"})


def _int_or_none(value):
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def _users_context(request, *, form=None, done=None, selected=()):
    # NUL bytes cannot reach PostgreSQL; a pasted one is dropped rather than failing the page.
    query = (request.GET.get("q") or request.POST.get("q") or "").replace("\x00", "")
    query = query.strip()[:MAX_SEARCH]
    after = _int_or_none(request.GET.get("after") or request.POST.get("after"))
    before = _int_or_none(request.GET.get("before") or request.POST.get("before"))
    page = selectors.directory_user_page_with_links(
        tenant=request.tenant, query=query, after=after, before=before
    )
    subscriptions = selectors.license_subscription_list(tenant=request.tenant)
    # "Select the first 20 on this page", the select-all of a browser without JavaScript: as
    # many as one action takes, so that the action the admin picks next is not refused.
    select_page = request.GET.get("select") == "page"
    if select_page:
        selected = [user.pk for user in page.users[: services.BROWSER_MAX_USERS]]
    selected = {str(pk) for pk in selected}
    for user in page.users:
        user.checked = str(user.pk) in selected
    return {
        "page": page,
        "users": page.users,
        "q": query,
        "after": after or "",
        "before": before or "",
        "subscriptions": subscriptions,
        "assignable": [s for s in subscriptions if s.assignable],
        "conflicts": [s for s in subscriptions if s.in_conflict],
        "form": form,
        "done": done,
        "unlicensed": _("Unlicensed"),
        "max_users": services.BROWSER_MAX_USERS,
        "all_checked": select_page and bool(page.users),
    }


@tenant_view()
def users(request):
    return page_or_partial(
        request, "licensing/users.html", _users_context(request), partial="user-panel"
    )


def _apply(request, data) -> tuple[int, str]:
    tenant, actor, ids = request.tenant, request.user, data["users"]
    action = data["action"]
    if action == "assign":
        changed = services.license_assign(
            tenant=tenant, actor=actor, subscription_id=data["assign_to"], user_ids=ids
        )
        return changed, ngettext(
            "%(count)d user got a license.", "%(count)d users got a license.", changed
        ) % {"count": changed}
    if action == "unassign":
        changed = services.license_unassign(
            tenant=tenant, actor=actor, subscription_id=data["unassign_from"], user_ids=ids
        )
        return changed, ngettext(
            "%(count)d license was unassigned.", "%(count)d licenses were unassigned.", changed
        ) % {"count": changed}
    changed = services.license_replace(
        tenant=tenant,
        actor=actor,
        source_id=data["replace_from"],
        target_id=data["replace_to"],
        user_ids=ids,
    )
    return changed, ngettext(
        "%(count)d user was moved to the new subscription.",
        "%(count)d users were moved to the new subscription.",
        changed,
    ) % {"count": changed}


@require_POST
@tenant_view(Cap.LICENSES)
def users_licenses(request):
    form = LicenseActionForm(request.POST)
    selected = request.POST.getlist("users")
    if form.is_valid():
        data = form.cleaned_data
        # Every id the form names, whichever action uses it: checked before any rule, so that
        # one the tenant does not have is a 404 however the rest of the request looks.
        if not selectors.license_targets_in_tenant(
            tenant=request.tenant,
            subscription_ids=[data[name] for name in SUBSCRIPTION_FIELDS if data[name] is not None],
            user_ids=data["users"],
        ):
            raise Http404
        try:
            _changed, message = _apply(request, data)
        except DomainError as error:
            if error.code in NOT_IN_TENANT:
                raise Http404 from error
            form.add_error(None, error.message)
        else:
            if request.htmx:
                return page_or_partial(
                    request,
                    "licensing/users.html",
                    _users_context(request, done=message),
                    partial="user-panel",
                )
            messages.success(request, message)
            params = {k: request.POST[k] for k in ("q", "after", "before") if request.POST.get(k)}
            url = reverse("users", args=[request.tenant.slug])
            return redirect(f"{url}?{urlencode(params)}" if params else url)
    template = "licensing/users.html"
    if request.htmx:
        # htmx swaps only successful responses by default: the error is shown in the panel.
        return page_or_partial(
            request,
            template,
            _users_context(request, form=form, selected=selected),
            partial="user-panel",
        )
    return render(
        request, template, _users_context(request, form=form, selected=selected), status=400
    )
