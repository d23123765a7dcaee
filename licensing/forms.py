from django import forms
from django.utils.translation import gettext_lazy as _


class IdListField(forms.Field):
    """Ids of the checked rows (any number; the service enforces the limit with a message)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        if not isinstance(value, list | tuple):
            value = [value]
        try:
            return [int(v) for v in value]
        except (TypeError, ValueError) as error:
            raise forms.ValidationError(_("The selection is not valid."), code="invalid") from error


class LicenseActionForm(forms.Form):
    ACTIONS = [
        ("assign", _("Assign licenses")),
        ("unassign", _("Unassign licenses")),
        ("replace", _("Replace licenses")),
    ]

    action = forms.ChoiceField(choices=ACTIONS)
    users = IdListField(required=False)
    assign_to = forms.IntegerField(label=_("Subscription"), required=False)
    unassign_from = forms.IntegerField(label=_("Subscription"), required=False)
    replace_from = forms.IntegerField(label=_("From"), required=False)
    replace_to = forms.IntegerField(label=_("To"), required=False)

    REQUIRED = {
        "assign": ["assign_to"],
        "unassign": ["unassign_from"],
        "replace": ["replace_from", "replace_to"],
    }

    def clean(self):
        data = super().clean()
        if not data.get("users"):
            raise forms.ValidationError(_("Select at least one user."), code="no_users")
        for name in self.REQUIRED.get(data.get("action"), []):
            if data.get(name) is None:
                self.add_error(name, _("Choose a subscription."))
        return data
