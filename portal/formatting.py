"""Dates, numbers and money as the reader's language writes them, in one place: templates use
the portal_format filters, Python code (stored messages rendered at display, CSV headers, CLI
summaries) calls these. "12,160.00 USD" in English, "12 160,00 USD" in Swedish: always two
decimals, always the language's thousands separator, the currency code after the amount.

The formats themselves are per language in portal/formats (settings.FORMAT_MODULE_PATH)."""

import datetime
from decimal import Decimal, InvalidOperation

from django.utils import formats, timezone
from django.utils.translation import gettext_noop

NBSP = "\u00a0"

# Month names as dates spell them out ("F" in portal/formats). Django's own catalogs have them,
# but Italian writes them capitalised ("4 Dicembre 2026"); listed here so the portal's catalogs,
# which come first, can give each language its own spelling ("4 dicembre 2026").
MONTH_NAMES = (
    gettext_noop("January"),
    gettext_noop("February"),
    gettext_noop("March"),
    gettext_noop("April"),
    gettext_noop("May"),
    gettext_noop("June"),
    gettext_noop("July"),
    gettext_noop("August"),
    gettext_noop("September"),
    gettext_noop("October"),
    gettext_noop("November"),
    gettext_noop("December"),
)


def money_text(amount, currency: str = "") -> str:
    """An amount with two decimals and the language's grouping, then its currency code.
    A non-breaking space keeps the code on the amount's line; "" for no amount."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    text = formats.number_format(value, 2, use_l10n=True, force_grouping=True)
    return f"{text}{NBSP}{currency}" if currency else text


def number_text(value) -> str:
    """A count with the language's thousands separator: 20,000 / 20 000 / 20.000."""
    if value is None or value == "":
        return ""
    return formats.number_format(value, 0, use_l10n=True, force_grouping=True)


def when_text(moment) -> str:
    """A moment as date and time in the active time zone; a date as a date."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, datetime.datetime):
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "DATETIME_FORMAT")
    return day_text(moment)


def moment_text(moment) -> str:
    """A moment to the second, in the language's date and time format (a timeline's steps are
    often seconds apart)."""
    if moment is None or moment == "":
        return ""
    if not isinstance(moment, datetime.datetime):
        return day_text(moment)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    pattern = formats.get_format("DATETIME_FORMAT")
    for minutes in ("H:i", "G:i"):
        if minutes in pattern and minutes + ":s" not in pattern:
            return formats.date_format(moment, pattern.replace(minutes, minutes + ":s", 1))
    date = formats.date_format(moment, "DATE_FORMAT")
    return f"{date} {formats.time_format(moment, 'H:i:s')}"


def day_text(moment) -> str:
    """A date (or the date of a moment in the active time zone)."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, datetime.datetime) and timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "DATE_FORMAT")
