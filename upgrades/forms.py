import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import BillingFrequency, PaymentMethod
from portal.api.fields import no_control_characters, visible_ascii


class TargetChoiceForm(forms.Form):
    REHEARSE = "rehearse"

    target = forms.CharField(
        max_length=40, widget=forms.HiddenInput, validators=[no_control_characters]
    )
    # Which page follows the new cart: the cart itself, or its rehearsal (the tab's Rehearse).
    then = forms.ChoiceField(choices=[("", ""), (REHEARSE, REHEARSE)], required=False)


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


class MaintenanceWindowForm(forms.Form):
    """When the upgrade starts: now, or at a date and time in the tenant's time zone. Cleans
    to `scheduled_for`: an aware datetime (None: start now). The bounds (an hour ahead at
    least, 14 days at most) are the service's rule (upgrades.checkout.window_check)."""

    NOW, WINDOW = "now", "window"

    when = forms.ChoiceField(
        label=_("When"),
        choices=[
            (NOW, _("Start as soon as the order is placed")),
            (WINDOW, _("Start in a maintenance window")),
        ],
        widget=forms.RadioSelect,
        initial=NOW,
    )
    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    time = forms.TimeField(
        label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args, zone: ZoneInfo, allow_now: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        if not allow_now:
            # Rescheduling: a window is the only choice.
            self.fields["when"].choices = [(self.WINDOW, _("Start in a maintenance window"))]
            self.fields["when"].initial = self.WINDOW
            self.fields["when"].widget = forms.HiddenInput()
            self.fields["date"].required = True
            self.fields["time"].required = True

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("when") != self.WINDOW:
            cleaned["scheduled_for"] = None
            return cleaned
        day, moment = cleaned.get("date"), cleaned.get("time")
        if day is None and "date" not in self.errors:
            self.add_error("date", _("Choose the day the upgrade starts."))
        if moment is None and "time" not in self.errors:
            self.add_error("time", _("Choose the time the upgrade starts."))
        if day is None or moment is None:
            return cleaned
        local = dt.datetime.combine(day, moment.replace(tzinfo=None, microsecond=0))
        aware = local.replace(tzinfo=self.zone)
        try:
            round_trip = aware.astimezone(dt.UTC).astimezone(self.zone).replace(tzinfo=None)
        except OverflowError:  # the first or last day a date can have
            self.add_error("date", _("Choose a day within the next 14 days."))
            return cleaned
        # A wall time the clocks skip (the hour they go forward) does not exist there.
        if round_trip != local:
            self.add_error(
                "time",
                _("%(time)s does not exist on that day in %(zone)s (the clocks go forward).")
                % {"time": moment.strftime("%H:%M"), "zone": self.zone.key},
            )
            return cleaned
        cleaned["scheduled_for"] = aware.astimezone(dt.UTC)
        return cleaned


class RunCancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        max_length=500,
        required=False,
        validators=[no_control_characters],
    )
