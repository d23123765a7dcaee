"""The hostile corpus shared by test_hostile_api.py and test_hostile_forms.py, and the database
snapshot they compare before and after sending it.

Every value here is invalid where it is sent: a refused request must leave every row as it was
(see SNAPSHOT_EXCLUSIONS for the only writes a refused request may make). A value that could be
valid somewhere (a plain "-1" is a fine idempotency key, "5.0", " 5" and "1_000" are numbers to
Django's IntegerField, a tab belongs in a multi-line reason) is sent only where it is not, or
the tests treat it as possibly valid (test_hostile_forms.py says where)."""

import hashlib
from html.parser import HTMLParser

from django.db import connection

# --- Database snapshot -----------------------------------------------------------------------

# What a refused request may write, and nothing else. A table maps to the columns left out of its
# digest, or to None when the whole table is left out.
SNAPSHOT_EXCLUSIONS: dict[str, frozenset[str] | None] = {
    # Every request may save its session (messages, the purchase cart kept between pages), and
    # signing the test clients in writes it: sessions are not the product's data.
    "django_session": None,
    # The API's authentication records when a valid token was last used, before the request is
    # looked at (portal.api.auth, step 6): the only column a refused API request writes.
    "portal_apitoken": frozenset({"last_used_at"}),
    # An invalid token is counted against its client address (portal.api.auth, step 3).
    "portal_apitokenfailure": None,
}


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def database_snapshot() -> dict[str, tuple[int, str]]:
    """Every table's row count and a digest of its rows in primary-key order (the text of each
    row, excluded columns left out), PostgreSQL. Two snapshots are equal when no row was
    inserted, deleted or changed."""
    snapshot = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            excluded = SNAPSHOT_EXCLUSIONS.get(table, frozenset())
            if excluded is None:
                continue
            columns = [
                column.name
                for column in connection.introspection.get_table_description(cursor, table)
                if column.name not in excluded
            ]
            row = "ROW(" + ", ".join(f"t.{_quoted(c)}" for c in columns) + ")::text"
            pk = connection.introspection.get_primary_key_column(cursor, table)
            order = f"t.{_quoted(pk)}" if pk else row
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg({row}, '|' ORDER BY {order}), '')) "  # noqa: S608
                f"FROM {_quoted(table)} t"
            )
            snapshot[table] = cursor.fetchone()
    return snapshot


def snapshot_changes(before: dict, after: dict) -> dict:
    """The tables whose (row count, digest) differ: {} when nothing changed."""
    return {
        table: (before.get(table), after.get(table))
        for table in sorted(set(before) | set(after))
        if before.get(table) != after.get(table)
    }


# --- Values ------------------------------------------------------------------------------------

TEN_THOUSAND = 10_000

# Text no single-line text field takes: NUL (PostgreSQL cannot store it; Django's CharField
# refuses it), control characters (refused like the API refuses them: portal.api.fields), tabs
# and line breaks inside it, and more characters than any field holds.
CONTROL_VALUES = ["\x01", "a\x08b", "\x1b[31mred", "del\x7f"]
LINE_BREAK_VALUES = ["tab\there", "line\nbreak", "cr\rhere"]
TEXTAREA_VALUES = [
    "\x00",
    "a\x00b",
    "\x00" * 100,
    "\x01\x02\x1b[2J\x7f\x00",
    "\u202e\x00gnp.exe",
    "x" * TEN_THOUSAND,
    "\x00" + "x" * TEN_THOUSAND,
    *CONTROL_VALUES,
]
# A textarea keeps tabs and line breaks.
TEXT_VALUES = [*TEXTAREA_VALUES, *LINE_BREAK_VALUES]

# What no whole-number field (a quantity, a count) takes: negative, zero, past every bound,
# past Python's 4,300-digit int() limit, not a whole number, NUL, nothing.
NUMBER_VALUES = [
    "-1",
    "0",
    "-" + "9" * 30,
    "9" * 30,
    str(2**63),
    "9" * TEN_THOUSAND,
    "1e999",
    "NaN",
    "Infinity",
    "1.5",
    "0x10",
    "1\x00",
    "\x00",
    "",
    "x" * TEN_THOUSAND,
]

# What no id (of a subscription, a user, ...) is: the NUMBER_VALUES, and positive ids that no
# row of a bigint primary key can have. Foreign ids (another tenant's rows) are added by the
# tests, which know them.
ID_VALUES = [*NUMBER_VALUES, str(2**63 - 1), "1" + "0" * 19]

# A choice (a radio button, a select of codes, a named submit button) none of whose options it is.
CHOICE_VALUES = [
    "",
    "\x00",
    "-1",
    "nonexistent",
    "x" * TEN_THOUSAND,
    "1e999",
]

# Segments in place of an id in a path: some are no URL of the portal (404 from the resolver),
# the others name no row (404 from the view).
PATH_ID_SEGMENTS = [
    "0",
    "-1",
    str(2**63),
    "9" * 30,
    "9" * 5000,
    "1.0",
    "1%00",
    "%00",
    "%FF",
    "%C0%AF",
    "%ED%A0%80",
    "%E2%80%AE",
    "%D9%A1",  # an Arabic-Indic digit one
    "%F0%9F%98%80",
    "1%2F2",
    "x" * 300,
]

# Raw query strings, as sent (not encoded again): broken percent-encoding, invalid UTF-8, NUL,
# huge values, a parameter named twice.
QUERY_STRINGS = [
    "%",
    "%zz=%zz",
    "a=%FF%FE",
    "a=%C0%AF",
    "a=%ED%A0%80",
    "%00=%00",
    "a=" + "9" * 5000,
    "a=" + "x" * TEN_THOUSAND,
    "a=1&a=2&a=%00",
    "&&&==&=",
]

# Values for each query parameter an API operation declares.
QUERY_VALUES = [
    "%00",
    "%FF",
    "%C0%AF",
    "%ED%A0%80",
    "-1",
    "0",
    "9" * 30,
    "9" * 5000,
    "1e999",
    "NaN",
    "x" * TEN_THOUSAND,
    "%D9%A5",  # an Arabic-Indic digit five
    "1%00",
]


# --- JSON bodies ---------------------------------------------------------------------------------


def _nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + b"1" + closer * depth


JSON = "application/json"

# Hostile bodies for every API operation that takes one: (name, raw bytes, content type). None of
# them is a request that could be carried out.
API_BODIES: list[tuple[str, bytes, str]] = [
    ("empty", b"", JSON),
    ("whitespace", b" \r\n\t ", JSON),
    ("null", b"null", JSON),
    ("array", b"[]", JSON),
    ("string", b'"users"', JSON),
    ("number", b"12", JSON),
    ("true", b"true", JSON),
    ("truncated", b'{"users": ["a', JSON),
    ("trailing comma", b'{"users": [],}', JSON),
    ("two documents", b"{}{}", JSON),
    ("deep arrays", _nested(5000), JSON),
    ("deep objects", _nested(5000, b'{"a":', b"}"), JSON),
    ("deep in a field", b'{"subscription_id": 1, "users": ' + _nested(5000) + b"}", JSON),
    ("deep unclosed", b"[" * 100_000, JSON),
    ("deep mixed", b'[{"a":' * 3000, JSON),
    ("deep just over the limit", _nested(33), JSON),
    ("huge integer", b'{"subscription_id": ' + b"9" * TEN_THOUSAND + b"}", JSON),
    ("huge negative", b'{"subscription_id": -' + b"9" * 5000 + b"}", JSON),
    ("float overflow", b'{"subscription_id": 1e999, "source_id": -1e999}', JSON),
    ("long float", b'{"subscription_id": 0.' + b"1" * 5000 + b"}", JSON),
    ("NaN", b'{"subscription_id": NaN, "quantity": Infinity}', JSON),
    ("-Infinity", b'{"subscription_id": -Infinity}', JSON),
    ("duplicate keys", b'{"subscription_id": 1, "subscription_id": 1}', JSON),
    (
        "NUL in a value",
        b'{"users": ["\\u0000"], "target": "\\u0000", "po_number": "\\u0000"}',
        JSON,
    ),
    ("NUL in a key", b'{"\\u0000": 1}', JSON),
    ("control characters", b'{"users": ["\\u0001\\u001b[2J"], "target": "\\u007f"}', JSON),
    ("lone surrogate", b'{"users": ["\\ud800"], "target": "\\udfff"}', JSON),
    ("lone surrogate key", b'{"\\ud800": 1}', JSON),
    ("invalid UTF-8", b'{"users": ["\xff\xfe"]}', JSON),
    ("overlong UTF-8", b'{"users": ["\xc0\xaf"]}', JSON),
    ("UTF-8 surrogate", b'{"users": ["\xed\xa0\x80"]}', JSON),
    ("UTF-16", '{"users": ["a"]}'.encode("utf-16"), JSON),
    ("BOM, then nothing valid", b"\xef\xbb\xbf{}", JSON),
    ("two BOMs", b"\xef\xbb\xbf\xef\xbb\xbf{}", JSON),
    (
        "long string",
        b'{"users": ["' + b"x" * 100_000 + b'"], "target": "' + b"x" * 1000 + b'"}',
        JSON,
    ),
    ("many users", b'{"users": [' + b",".join([b'"a"'] * 60_000) + b"]}", JSON),
    ("wrong types", b'{"subscription_id": "1", "users": "a", "target": [], "quantity": {}}', JSON),
    ("bools as ids", b'{"subscription_id": true, "source_id": false, "target_id": null}', JSON),
    ("negative ids", b'{"subscription_id": -1, "source_id": 0, "target_id": -9}', JSON),
    ("ids past bigint", b'{"subscription_id": 9223372036854775808}', JSON),
    ("unknown field only", b'{"__proto__": {"admin": true}}', JSON),
    ("form-encoded", b"subscription_id=1&users=a", "application/x-www-form-urlencoded"),
    ("text/plain JSON", b'{"subscription_id": 1, "users": ["a"]}', "text/plain"),
    (
        "multipart",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
        "multipart/form-data; boundary=x",
    ),
    ("broken multipart", b"--x\r\n\r\n", "multipart/form-data"),
    ("no content type", b'{"subscription_id": 1}', ""),
    ("xml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'a'>]><x>&a;</x>", "application/xml"),
    ("JSON, wrong charset", '{"users": ["é"]}'.encode("latin-1"), JSON + "; charset=latin-1"),
]


def fingerprint(value) -> str:
    """A short name for a long value in a failure message."""
    text = repr(value)
    if len(text) <= 60:
        return text
    return f"{text[:40]}… ({len(text)} chars, {hashlib.md5(text.encode()).hexdigest()[:8]})"  # noqa: S324


# --- Forms of the pages ------------------------------------------------------------------------


class Form:
    """A POST form as a page shows it: where it posts and its fields, each with its kind
    ("text", "textarea", "number", "id", "choice", "hidden" when an empty hidden field, or
    "flag" for a checkbox, which any value checks) and the value the page gives it."""

    def __init__(self, action: str):
        self.action = action
        self.fields: dict[str, tuple[str, str]] = {}

    def add(self, name: str, kind: str, value: str) -> None:
        # A group of radio buttons or checkboxes is one field: keep the first value shown.
        self.fields.setdefault(name, (kind, value))

    def defaults(self) -> dict[str, str]:
        """What a browser posts when the admin has checked every box (a confirmation
        included) and changed nothing else: the form as complete as it gets."""
        return {name: value for name, (_kind, value) in self.fields.items()}

    def __repr__(self):
        return f"Form({self.action!r}, {self.fields!r})"


def _kind_of_value(value: str, otherwise: str) -> str:
    return "id" if value.isascii() and value.isdigit() else otherwise


class PostForms(HTMLParser):
    """The POST forms of one page, with their fields. The CSRF field is left out: the tests
    send the token in the X-CSRFToken header, whatever the body."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._options: list[str] = []
        self._selected: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form":
            if attrs.get("method", "").lower() == "post":
                self._form = Form(attrs.get("action") or self.page_url)
                self.forms.append(self._form)
            return
        if tag == "option" and self._select:
            value = attrs.get("value", "")
            self._options.append(value)
            if "selected" in attrs:
                self._selected = value
            return
        form = self._form
        name = attrs.get("name")
        if form is None or not name or name == "csrfmiddlewaretoken":
            return
        if tag == "input":
            kind = attrs.get("type", "text").lower()
            value = attrs.get("value", "")
            if kind in ("checkbox", "radio"):
                if kind == "checkbox" and not value.isdigit():
                    form.add(name, "flag", value or "on")
                else:
                    form.add(name, _kind_of_value(value, "choice"), value)
            elif kind == "number":
                form.add(name, "number", value)
            elif kind in ("submit", "button", "image"):
                form.add(name, "choice", value)
            elif kind == "hidden":
                # Filled in by the page: an id when it holds one; when empty, it may be either.
                form.add(name, _kind_of_value(value, "text" if value else "hidden"), value)
            else:
                form.add(name, "text", value)
        elif tag == "button" and attrs.get("type", "submit").lower() == "submit":
            form.add(name, "choice", attrs.get("value", ""))
        elif tag == "textarea":
            form.add(name, "textarea", "")
        elif tag == "select":
            self._select, self._options, self._selected = name, [], None

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select" and self._select and self._form is not None:
            values = [value for value in self._options if value]
            numeric = bool(values) and all(value.isascii() and value.isdigit() for value in values)
            default = (
                self._selected if self._selected is not None else next(iter(self._options), "")
            )
            self._form.add(self._select, "id" if numeric else "choice", default)
            self._select = None


# What each kind of field is sent.
VALUES_BY_KIND = {
    "text": TEXT_VALUES,
    "textarea": TEXTAREA_VALUES,
    "number": NUMBER_VALUES,
    "id": ID_VALUES,
    "choice": CHOICE_VALUES,
    "hidden": [*TEXT_VALUES, *ID_VALUES],
}
