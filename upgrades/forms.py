from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import BillingFrequency, PaymentMethod
from portal.api.fields import no_control_characters, visible_ascii


class TargetChoiceForm(forms.Form):
    target = forms.CharField(
        max_length=40, widget=forms.HiddenInput, validators=[no_control_characters]
    )


class UpgradeCartForm(forms.Form):
    """Quantity may rise, never fall below the current count (licenses cannot be removed as part
    of an upgrade). The service checks the same rules against the database."""

    billing_frequency = forms.ChoiceField(
        label=_("Billing frequency"), choices=BillingFrequency.choices, widget=forms.RadioSelect
    )
    quantity = forms.IntegerField(label=_("Licenses"), max_value=1_000_000)

    def __init__(self, *args, minimum: int, maximum: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["quantity"]
        field.widget.attrs["min"] = minimum
        if maximum is not None:
            field.widget.attrs["max"] = maximum
        self.minimum = minimum
        self.maximum = maximum

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity < self.minimum:
            raise forms.ValidationError(
                _("Licenses cannot be removed as part of an upgrade: choose %(n)s or more."),
                params={"n": self.minimum},
            )
        if self.maximum is not None and quantity > self.maximum:
            raise forms.ValidationError(
                _("This plan is limited to %(n)s licenses."), params={"n": self.maximum}
            )
        return quantity


class PaymentForm(forms.Form):
    payment_method = forms.ChoiceField(
        label=_("Pay with"), choices=PaymentMethod.choices, widget=forms.RadioSelect
    )


class PlaceOrderForm(forms.Form):
    idempotency_key = forms.CharField(
        max_length=100, widget=forms.HiddenInput, validators=[visible_ascii]
    )
