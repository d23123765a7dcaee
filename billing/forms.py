from django import forms
from django.utils.translation import gettext_lazy as _

from portal.api.fields import no_control_characters, visible_ascii

from .models import BillingFrequency, PaymentMethod, Product
from .rules import MAX_LICENSES


class PurchaseForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.none(),
        to_field_name="code",
        empty_label=None,
        widget=forms.RadioSelect,
    )
    quantity = forms.IntegerField(label=_("Licenses"), min_value=1, max_value=MAX_LICENSES)
    billing_frequency = forms.ChoiceField(
        label=_("Billing frequency"),
        choices=BillingFrequency.choices,
        initial=BillingFrequency.MONTHLY,
        widget=forms.RadioSelect,
    )
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, products, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products


class LicenseCountForm(forms.Form):
    count = forms.IntegerField(label=_("Number of licenses"), min_value=1, max_value=MAX_LICENSES)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=300,
        validators=[no_control_characters],
    )
    confirm = forms.BooleanField(
        label=_("I understand that users of this subscription lose access."), required=True
    )


class PlaceOrderForm(forms.Form):
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=100, validators=[visible_ascii]
    )
    payment_method = forms.ChoiceField(
        label=_("Pay with"),
        choices=PaymentMethod.choices,
        initial=PaymentMethod.CARD,
        widget=forms.RadioSelect,
    )


class _AddressForm(forms.Form):
    """The postal address the billed-to and sold-to forms share."""

    address_line = forms.CharField(
        label=_("Address"), max_length=200, validators=[no_control_characters]
    )
    city = forms.CharField(label=_("City"), max_length=100, validators=[no_control_characters])
    postal_code = forms.CharField(
        label=_("Postal code"), max_length=20, validators=[no_control_characters]
    )
    country = forms.CharField(
        label=_("Country (two letters)"),
        min_length=2,
        max_length=2,
        validators=[no_control_characters],
    )


class BilledToForm(_AddressForm):
    contact_name = forms.CharField(
        label=_("Billing contact"), max_length=200, validators=[no_control_characters]
    )
    contact_email = forms.EmailField(label=_("Email"))
    po_number = forms.CharField(
        label=_("PO number"), max_length=60, required=False, validators=[no_control_characters]
    )
    field_order = [
        "contact_name",
        "contact_email",
        "address_line",
        "city",
        "postal_code",
        "country",
        "po_number",
    ]


class SoldToForm(_AddressForm):
    name = forms.CharField(
        label=_("Organisation"), max_length=200, validators=[no_control_characters]
    )
    field_order = ["name", "address_line", "city", "postal_code", "country"]
