"""{% load portal_format %}: the one way pages format amounts, counts, dates and states.

    {{ invoice.total|money:invoice.currency }}   12,160.00 USD (right-align it in td.num)
    {{ run.total|number }}                       20,000
    {{ run.placed_at|when }}                     Dec 4, 2026, 14:38
    {{ invoice.due_on|day }}                     Dec 4, 2026
    {% badge run.state run.get_state_display %} a status badge, one colour per state code

The Python side of the same formats is portal.formatting."""

from django import template
from django.utils.html import format_html

from portal.formatting import day_text, moment_text, money_text, number_text, when_text
from portal.texts import StoredText

register = template.Library()

# One tone per state code, the same on every page: good (done, active, paid), working (in
# progress), waiting (needs someone, or scheduled), bad (failed, refused, lapsed), neutral.
STATE_TONES = {
    "active": "good",
    "ready": "good",
    "upgrading": "working",
    "revoked": "bad",
    "conflict": "bad",
    "trial": "neutral",
    "completed": "good",
    "paid": "good",
    "approved": "good",
    "succeeded": "good",
    "answered": "good",
    "placed": "working",
    "provisioning": "working",
    "moving_licenses": "working",
    "removing_addons": "working",
    "cancelling_source": "working",
    "scheduled": "waiting",
    "awaiting_credit_check": "waiting",
    "pending": "waiting",
    "unpaid": "waiting",
    "open": "waiting",
    "expired": "bad",
    "disabled": "bad",
    "deleted": "bad",
    "failed": "bad",
    "declined": "bad",
    "overdue": "bad",
    "cancelled": "neutral",
    "credited": "neutral",
}


@register.filter
def money(amount, currency=""):
    return money_text(amount, currency or "")


@register.filter
def number(value):
    return number_text(value)


@register.filter
def when(moment):
    return when_text(moment)


@register.filter
def moment(value):
    """To the second: timelines, whose steps are often seconds apart."""
    return moment_text(value)


@register.filter
def day(moment):
    return day_text(moment)


def state_tone(code) -> str:
    return STATE_TONES.get(str(code), "neutral")


@register.simple_tag
def badge(code, label=None):
    """A status badge: the label (translated by its choices) in the state's colour; the code
    rides along as a class and a data attribute for tests and scripts."""
    return format_html(
        '<span class="badge tone-{} state-{}" data-state="{}">{}</span>',
        state_tone(code),
        code,
        code,
        label if label is not None else code,
    )


@register.filter
def stored(value):
    """A stored text kept as data (an order snapshot's line, {"key": ..., "params": ...}) as
    its sentence in the reader's language; anything else as it is."""
    if isinstance(value, dict):
        return StoredText.from_data(value)
    return value
