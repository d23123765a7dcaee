from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.roles import ALWAYS_GRANTED_SCOPE, TOKEN_SCOPE_HELP, TokenScope, token_scopes_for_role

from .fields import no_control_characters
from .selectors import api_token_default_days, api_token_lifetime_choices


def _lifetime_label(days: int) -> str:
    return ngettext("%(days)d day", "%(days)d days", days) % {"days": days}


class ApiTokenCreateForm(forms.Form):
    """A new token: its name, how long it lives (never beyond PORTAL_API_TOKEN_MAX_DAYS) and its
    scopes, offered only as far as the admin's role allows. The service checks both again."""

    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        validators=[no_control_characters],
        help_text=_("What the token is for, e.g. “HR sync” or “CI”."),
    )
    expires_in_days = forms.TypedChoiceField(label=_("Expires after"), coerce=int)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A token never does more than your admin role allows."),
    )

    def __init__(self, *args, role: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        lifetimes = api_token_lifetime_choices()
        self.fields["expires_in_days"].choices = [(d, _lifetime_label(d)) for d in lifetimes]
        self.fields["expires_in_days"].initial = api_token_default_days()
        self.fields["scopes"].choices = [(s.value, s.label) for s in token_scopes_for_role(role)]
        self.fields["scopes"].initial = [ALWAYS_GRANTED_SCOPE.value]

    def scope_options(self) -> list[dict]:
        """Each offered scope's checkbox with what it allows; read is always on (shown checked
        and disabled: the service adds it whatever is posted)."""
        return [
            {
                "widget": widget,
                "help": TOKEN_SCOPE_HELP[TokenScope(widget.data["value"])],
                "always": widget.data["value"] == ALWAYS_GRANTED_SCOPE,
            }
            for widget in self["scopes"]
        ]
