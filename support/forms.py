from django import forms
from django.utils.translation import gettext_lazy as _

from portal.api.fields import no_control_characters, no_control_characters_but_line_breaks
from portal.signin import ACCOUNT, ADDRESS, API_TOKENS
from upgrades.models import RunState

from .selectors import AGES

REASON_HELP = _("Kept in the audit log with your name.")


class ReasonForm(forms.Form):
    """Every support action carries a written reason."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        strip=True,
        help_text=REASON_HELP,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        validators=[no_control_characters_but_line_breaks],
        error_messages={"required": _("Write a reason: it is kept in the audit log.")},
    )


class SignInUnlockForm(ReasonForm):
    """Which lockout to lift: an account (its user name) or an address."""

    kind = forms.ChoiceField(
        label=_("Locked"),
        choices=[
            (ACCOUNT, _("Account")),
            (ADDRESS, _("Address")),
            (API_TOKENS, _("Address (API tokens)")),
        ],
    )
    subject = forms.CharField(label=_("Account or address"), max_length=255)


class CreditCheckDecisionForm(ReasonForm):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("Approve")), ("decline", _("Decline"))],
    )


class IncidentOpenForm(ReasonForm):
    title = forms.CharField(
        label=_("Title"), max_length=200, strip=True, validators=[no_control_characters]
    )
    tenant = forms.SlugField(
        label=_("Organisation (short name)"),
        required=False,
        help_text=_("Leave empty for an incident that affects every organisation."),
    )


class RunSearchForm(forms.Form):
    tenant = forms.CharField(
        label=_("Organisation"),
        required=False,
        max_length=100,
        validators=[no_control_characters],
    )
    state = forms.ChoiceField(
        label=_("State"), required=False, choices=[("", _("Any state")), *RunState.choices]
    )
    age = forms.ChoiceField(
        label=_("Placed"),
        required=False,
        choices=[
            ("", _("Any time")),
            ("lt1h", _("In the last hour")),
            ("lt1d", _("In the last day")),
            ("lt7d", _("In the last week")),
            ("gt1h", _("More than an hour ago")),
            ("gt1d", _("More than a day ago")),
            ("gt7d", _("More than a week ago")),
        ],
    )

    def clean_age(self):
        age = self.cleaned_data["age"]
        return age if age in AGES else ""


class SupportAnswerForm(forms.Form):
    """The answer to an admin's support request: the tenant's admins read it as it is."""

    answer = forms.CharField(
        label=_("Answer"),
        max_length=4000,
        strip=True,
        help_text=_(
            "The organisation's admins read it in their notifications and on their requests "
            "page; it is kept in the audit log with your name."
        ),
        widget=forms.Textarea(attrs={"rows": 5, "cols": 70}),
        validators=[no_control_characters_but_line_breaks],
        error_messages={"required": _("Write the answer the admins will read.")},
    )
