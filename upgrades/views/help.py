"""Contact support: a request tied to the subscription or run it is about.

Reachable while the tenant is admin-locked (the admins an upgrade locks out need help most)
and by every admin role. The form posts and redirects to the confirmation (?sent=<id>); the
page also lists the organisation's latest requests with support's answers, which is where an
answer's notification links."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal.access import tenant_view
from portal.api.fields import no_control_characters_but_line_breaks
from portal.errors import DomainError
from portal.roles import is_support

from .. import help as support_help


class SupportRequestForm(forms.Form):
    topic = forms.ChoiceField(
        label=_("What is it about?"), choices=support_help.SupportTopic.choices
    )
    message = forms.CharField(
        label=_("Message"),
        max_length=support_help.MESSAGE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 70}),
        validators=[no_control_characters_but_line_breaks],
        help_text=_("Say what you tried and what you expected. Support sees the upgrade with it."),
        error_messages={"required": _("Write what support should know.")},
    )
    subscription = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    run = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


def _id(value) -> int | None:
    """An id from the query string; anything else names nothing that exists (404)."""
    if value in (None, ""):
        return None
    # Digits only and at most 19 of them before int() (which refuses very long strings).
    text = str(value)
    if not (text.isdigit() and len(text) <= 19) or not 0 < int(text) < 2**63:
        raise Http404
    return int(value)


@tenant_view(lock_exempt=True)
def support_request_create(request):
    tenant = request.tenant
    if request.method == "POST" and is_support(request.user):
        # Support engineers answer requests in the console; they do not file them.
        raise PermissionDenied

    # The subject comes from the form's fields, else from the address (the page's own link).
    # Both are checked: another tenant's id, wherever it is, is one that does not exist.
    linked = {name: _id(request.GET.get(name)) for name in ("subscription", "run")}
    posted = {name: _id(request.POST.get(name)) for name in ("subscription", "run")}
    if request.method == "POST" and any(linked.values()):
        support_help.support_request_subject_get(
            tenant=tenant, subscription_id=linked["subscription"], run_id=linked["run"]
        )
    subscription, run = support_help.support_request_subject_get(
        tenant=tenant,
        subscription_id=posted["subscription"] or linked["subscription"],
        run_id=posted["run"] or linked["run"],
    )
    sent = None
    if request.method == "GET" and request.GET.get("sent"):
        sent = support_help.support_request_get(tenant=tenant, pk=_id(request.GET["sent"]))
    status = 200
    if request.method == "POST":
        form = SupportRequestForm(request.POST)
        if form.is_valid():
            try:
                created = support_help.support_request_create(
                    access=request.access,
                    topic=form.cleaned_data["topic"],
                    message=form.cleaned_data["message"],
                    subscription=subscription,
                    run=run,
                )
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                url = reverse("support_request_create", args=[tenant.slug])
                return redirect(f"{url}?sent={created.pk}")
        status = 400
    else:
        form = SupportRequestForm(
            initial={
                "topic": support_help.support_topic_default(run=run),
                "subscription": subscription.pk if subscription else None,
                "run": run.pk if run else None,
            }
        )
    requests = list(support_help.support_request_list(tenant=tenant))
    for item in requests:
        item.topic_label = support_help.support_topic_label(item.topic)
    return render(
        request,
        "upgrades/support_request.html",
        {
            "form": form,
            "subscription": subscription,
            "run": run,
            "sent": sent,
            "requests": requests,
            "max_open": support_help.MAX_OPEN_REQUESTS,
        },
        status=status,
    )
