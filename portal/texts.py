"""Sentences written now and read later, in the reader's language.

A notification, a reason in a timeline or an invoice line is read days later by someone who may
read another language than the one that was active when it was written (a Celery worker has no
reader at all). So such a text is stored as a message key with its parameters, never as the
sentence itself, and the sentence is made when the text is shown, in the language of that page:

    notification_create(tenant=t, message=text("upgrades.notify.completed", target=n, count=300))
    {{ notification.message }}  →  (in Swedish) "Din uppgradering till … är klar: 300 …"

Each app registers its keys and their English msgids (marked for translation) at start-up with
`messages_register` (in its texts.py, imported by its AppConfig.ready); portal stores and renders
them without importing the apps. Parameters are kept typed so they are formatted for the reader
too: numbers with the language's grouping, dates in its format, money with its separators
(`money(amount, currency)`), and a parameter may itself be a stored text (a failure reason inside
a notification). Words an admin typed (a cancellation reason, a support answer) are stored as
written and shown as written: `literal(words)`, or just a str.

`StoredTextField` is the model field: a text column holding a plain string (an admin's words, and
rows written before keys existed) or a JSON object {"key": ..., "params": {...}}. Reading gives a
`StoredText` whose str() is the sentence in the active language."""

from __future__ import annotations

import datetime
import json
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext

from .formatting import day_text, money_text, number_text, when_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A registered message: its English msgid (and plural, chosen by the `count` parameter)."""

    singular: str
    plural: str | None = None
    count: str = "count"


_CATALOG: dict[str, Message] = {}


def messages_register(entries: dict[str, str | tuple[str, str]]) -> None:
    """Register message keys: key → msgid, or key → (singular, plural) chosen by `count`. The
    msgids are marked with gettext_noop where they are written, so makemessages finds them."""
    for key, value in entries.items():
        message = Message(*value) if isinstance(value, tuple) else Message(value)
        known = _CATALOG.get(key)
        if known is not None and known != message:
            raise ValueError(f"Message key {key!r} is registered twice with different texts")
        _CATALOG[key] = message


def message_keys() -> dict[str, Message]:
    return dict(_CATALOG)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


def money_param(amount, currency: str) -> Money:
    """An amount of money as a parameter: shown with the reader's separators and its currency."""
    return Money(Decimal(str(amount)), currency)


@dataclass(frozen=True)
class Zoned:
    moment: datetime.datetime
    zone: str


def zoned_param(moment: datetime.datetime, zone: str) -> Zoned:
    """A moment as read in a given time zone (a tenant's), with the zone's name."""
    return Zoned(moment, zone)


def _param_dump(value):
    if isinstance(value, StoredText):
        return {"$text": value.as_data()}
    if isinstance(value, Money):
        return {"$money": [str(value.amount), value.currency]}
    if isinstance(value, Zoned):
        return {"$zoned": [value.moment.isoformat(), value.zone]}
    if isinstance(value, datetime.datetime):
        return {"$when": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Promise):
        # A lazy translation (a choice's label): its msgid, translated when shown, not frozen
        # in the writer's language (a worker writes in English).
        with translation.override(None):
            return {"$gettext": str(value)}
    # Model instances and other values become their text as written (names, codes).
    return str(value)


def _param_render(value):
    if isinstance(value, dict):
        if "$text" in value:
            return str(StoredText.from_data(value["$text"]))
        if "$money" in value:
            amount, currency = value["$money"]
            return money_text(Decimal(amount), currency)
        if "$zoned" in value:
            moment, zone = value["$zoned"]
            try:
                local = datetime.datetime.fromisoformat(moment).astimezone(ZoneInfo(zone))
            except (ValueError, ZoneInfoNotFoundError):
                return when_text(datetime.datetime.fromisoformat(moment))
            return f"{when_text(local.replace(tzinfo=None))} ({zone})"
        if "$when" in value:
            return when_text(datetime.datetime.fromisoformat(value["$when"]))
        if "$date" in value:
            return day_text(datetime.date.fromisoformat(value["$date"]))
        if "$decimal" in value:
            return number_text(Decimal(value["$decimal"]))
        if "$gettext" in value:
            return gettext(str(value["$gettext"]))
    if isinstance(value, int) and not isinstance(value, bool):
        return number_text(value)
    return "" if value is None else value


def _param_read(key: str, name: str, value):
    """A parameter for the page; one that cannot be read (a row edited by hand) shows as
    nothing rather than turning the page into an error."""
    try:
        return _param_render(value)
    except (KeyError, TypeError, ValueError, InvalidOperation):
        log.warning("Message %r: parameter %r cannot be read: %r", key, name, value)
        return ""


class StoredText:
    """A stored sentence: a message key with parameters, or words stored as written."""

    __slots__ = ("key", "params", "words")

    def __init__(self, *, key: str = "", params: dict | None = None, words: str = ""):
        self.key = key
        self.params = params or {}
        self.words = words

    # --- storage ----------------------------------------------------------------------------
    def as_data(self) -> dict:
        return {"key": self.key, "params": self.params} if self.key else {"text": self.words}

    def dump(self) -> str:
        if self.key:
            return json.dumps(self.as_data(), ensure_ascii=False, sort_keys=True)
        return _words_dump(self.words)

    @classmethod
    def from_data(cls, data) -> StoredText:
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            params = data.get("params")
            return cls(key=data["key"], params=params if isinstance(params, dict) else {})
        if isinstance(data, dict):
            return cls(words=str(data.get("text", "")))
        return cls(words=str(data))

    @classmethod
    def load(cls, stored: str | None) -> StoredText:
        if not stored:
            return cls(words="")
        if stored.startswith("{"):
            try:
                data = json.loads(stored)
            except ValueError:
                return cls(words=stored)
            if isinstance(data, dict) and ("key" in data or "text" in data):
                return cls.from_data(data)
        return cls(words=stored)

    # --- reading ----------------------------------------------------------------------------
    def render(self) -> str:
        if not self.key:
            return self.words
        message = _CATALOG.get(self.key)
        if message is None:
            log.warning("Unknown message key %r: shown as its key", self.key)
            return self.key
        params = {name: _param_read(self.key, name, value) for name, value in self.params.items()}
        try:
            if message.plural is not None:
                count = self.params.get(message.count, 0)
                sentence = ngettext(message.singular, message.plural, int(count or 0))
            else:
                sentence = gettext(message.singular)
            return sentence % params if "%(" in sentence else sentence
        except (KeyError, TypeError, ValueError):
            # A translation whose placeholders do not match the parameters: the English
            # sentence is better than no sentence, and better than an error page.
            log.warning("Message %r does not fit its parameters %r", self.key, self.params)
            try:
                return message.singular % params
            except (KeyError, TypeError, ValueError):
                return message.singular

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"StoredText({self.as_data()!r})"

    def __bool__(self) -> bool:
        return bool(self.key or self.words)

    def __len__(self) -> int:
        return len(str(self))

    def __eq__(self, other) -> bool:
        if isinstance(other, StoredText):
            return self.as_data() == other.as_data()
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        # Equal to a str with the same sentence, so the same hash as that str.
        return hash(str(self))

    def __lt__(self, other) -> bool:
        # A stable order for lists of texts (by what is stored, not by a language's words).
        if isinstance(other, StoredText):
            return self.dump() < other.dump()
        return NotImplemented

    def __contains__(self, part: str) -> bool:
        return part in str(self)


def _words_dump(words: str) -> str:
    # Words that would read back as a keyed text (an admin typing JSON) are wrapped, so they
    # are shown as typed.
    if words.startswith("{"):
        return json.dumps({"text": words}, ensure_ascii=False)
    return words


# Parameters that name a thing (request #1234, upgrade 1234), never a count to group.
ID_PARAMS = frozenset({"id", "number", "run", "request", "order", "invoice"})


def _names_an_id(name: str) -> bool:
    return name in ID_PARAMS or name.endswith("_id")


def text(key: str, **params) -> StoredText:
    """A registered message with its parameters, to store. An unknown key fails at once, where
    it is written, not later on a page. Integers are counts, shown with the reader's thousands
    separators; pass ids and numbers that are names (request #139000044) as strings."""
    if key not in _CATALOG:
        raise KeyError(f"Unknown message key {key!r}: register it with messages_register")
    for name, value in params.items():
        if _names_an_id(name) and isinstance(value, int) and not isinstance(value, bool):
            raise TypeError(f"Parameter {name!r} of {key!r} is an id: pass it as a str")
    return StoredText(key=key, params={name: _param_dump(v) for name, v in params.items()})


def literal(words) -> StoredText:
    """Words stored and shown as written (what an admin or a support engineer typed)."""
    return StoredText(words=str(words or ""))


def stored(value) -> StoredText:
    """A StoredText from what callers pass: a StoredText, or words as written."""
    return value if isinstance(value, StoredText) else literal(value)


class StoredTextField(models.TextField):
    """A text column holding a message key with parameters (or words as written); reads as a
    StoredText, rendered in the language active when it is shown."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else StoredText.load(value)

    def to_python(self, value):
        if value is None or isinstance(value, StoredText):
            return value
        return StoredText.load(str(value))

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, StoredText):
            return value.dump()
        return _words_dump(str(value))

    def value_to_string(self, obj):
        value = self.value_from_object(obj)
        return value.dump() if isinstance(value, StoredText) else str(value or "")


def ngettext_noop(singular: str, plural: str) -> tuple[str, str]:
    """Marks a singular and plural msgid for makemessages (portal's makemessages command adds
    this keyword) without translating them: the count is known only when the text is shown."""
    return (singular, plural)
