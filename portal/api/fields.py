"""What a request to the API may contain, shared by every app's endpoints: ids, text, query
parameters, the tenant of the path and the Idempotency-Key header; the parser of request
bodies and query strings; and the timestamps of answers. The pages' forms take text by the
same rule (the validators under "Forms").

Input is strict: a JSON `true` or `"1"` is not an id, a number is not text, and the input
schemas refuse unknown fields (`model_config = ConfigDict(extra="forbid")`). A violation is
answered 400 `invalid_request` with the offending fields (see errors.py)."""

import json
import math
import re
from dataclasses import dataclass
from typing import Annotated

from django.conf import settings
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Header, Path
from ninja.parser import Parser
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

# Ids are PostgreSQL bigints: a larger number is not an id of anything (and must not reach
# the database, which would refuse it with an error rather than "no such row").
MAX_ID = 2**63 - 1

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The same rule as a JSON-schema pattern, for the OpenAPI document.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f]*$"


# --- Bodies --------------------------------------------------------------------------------

# An id in a JSON body: an integer (strictly: not true, not "1", not 1.0) from 1 to MAX_ID.
Id = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]


def printable(value: str) -> str:
    """Refuse text that cannot be stored or shown: control characters (NUL breaks PostgreSQL)."""
    if _CONTROL.search(value):
        raise PydanticCustomError("control_characters", _("Control characters are not allowed."))
    return value


def text(max_length: int):
    """A JSON string of at most max_length characters without control characters."""
    return Annotated[
        str,
        Field(
            strict=True,
            max_length=max_length,
            json_schema_extra={"pattern": PRINTABLE_PATTERN},
        ),
        AfterValidator(printable),
    ]


# --- Forms ------------------------------------------------------------------------------------

# Text typed into a page's form follows the API's rule: no control characters (Django's own
# CharField refuses only NUL). Single-line fields take none; multi-line ones (a textarea) keep
# tabs and line breaks.
no_control_characters = RegexValidator(
    _CONTROL,
    inverse_match=True,
    message=gettext_lazy("Control characters are not allowed."),
    code="control_characters",
)
no_control_characters_but_line_breaks = RegexValidator(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]",
    inverse_match=True,
    message=gettext_lazy("Control characters are not allowed."),
    code="control_characters",
)
# An idempotency key in a form: what the API takes in its Idempotency-Key header.
visible_ascii = RegexValidator(
    r"^[\x21-\x7e]+$",
    message=gettext_lazy("This key is not valid: reload the page and try again."),
    code="invalid_key",
)


# --- Query strings and paths ----------------------------------------------------------------


def _digits(value):
    """Query parameters arrive as text: only plain ASCII digits are a number ("+1", " 1",
    "1.0", "1_000" are not)."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            raise PydanticCustomError("whole_number", _("Must be a whole number."))
        return int(value)
    return value


# A whole number in a query string, with its default and bounds where it is used:
# `limit: Annotated[QueryInt, Query(20, ge=1, le=100)]` (the default inside Query(): ninja
# would lose a `= 20` on a type that is already Annotated).
QueryInt = Annotated[int, BeforeValidator(_digits)]

# The tenant in every path: /api/v1/tenants/<tenant_slug>/... The token's own tenant only; the
# authentication answers any other with 404 (the handlers use request.tenant).
TenantSlug = Annotated[
    str,
    Path(
        description="The tenant's short name; a token works only in its own tenant.",
        pattern=r"^[-a-zA-Z0-9_]+$",
    ),
]

# An id in a path: the URL converter `api_id` (config/api.py) lets only 1..MAX_ID through.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IdempotencyKey = Annotated[
    str,
    Header(
        alias=IDEMPOTENCY_KEY_HEADER,
        description="A unique key per intended order, e.g. a UUID.",
        pattern=r"^[\x21-\x7e]{1,100}$",
    ),
]


# --- Answers ---------------------------------------------------------------------------------

# Answers carry dates and times as the ISO 8601 text of date.isoformat() / datetime.isoformat()
# (microseconds and the "+00:00" offset kept), as the API always has.
DateText = Annotated[str, Field(json_schema_extra={"format": "date"})]
DateTimeText = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


# --- Parsing ---------------------------------------------------------------------------------

BODY_ERROR_ATTRIBUTE = "api_body_error"
JSON_MEDIA_TYPE = "application/json"
# Ids are at most 19 digits and no quantity is near that: a longer number is no value of the
# API, and refusing it before int() keeps Python's quadratic conversion of huge literals
# (capped at 4,300 digits, with a ValueError) out of reach.
MAX_NUMBER_CHARACTERS = 100

# A JSON string (skipped whole, so that brackets inside text do not count as nesting); an
# unterminated one runs to the end of the text, a lone backslash at the very end included, so
# the scan never fails at a quote and stays linear whatever the quotes (a failed match would
# be retried one character on: quadratic on a body of escaped quotes ending in a backslash).
_JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_OPENERS = frozenset(b"[{")


@dataclass(frozen=True)
class BodyError:
    """Why a body was refused before validation, answered by errors.py after the
    Idempotency-Key header has been checked."""

    status: int
    code: str
    message: str


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def json_nesting_exceeds(text: str, limit: int) -> bool:
    """Whether the JSON text nests arrays and objects more than `limit` deep, found without
    parsing it: without recursion, in time linear in the text, stopping at the first level
    too deep. (json.loads recurses once per level: a few thousand levels exhaust the stack,
    and what survives parsing would exhaust it later, in validation or in an answer.)"""
    brackets = _JSON_STRING.sub("", text).encode()
    depth = 0
    for byte in brackets.translate(None, _NOT_BRACKETS):
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _no_duplicate_keys(pairs):
    keys = {key for key, _value in pairs}
    if len(keys) != len(pairs):
        seen, twice = set(), []
        for key, _value in pairs:
            if key in seen and key not in twice:
                twice.append(key)
            seen.add(key)
        raise _Refused(
            "duplicate_keys",
            _("The request body names a key more than once: %(keys)s.")
            % {"keys": ", ".join(key[:40] for key in twice[:5])},
        )
    return dict(pairs)


def _number(parse):
    def parse_number(literal: str):
        if len(literal) > MAX_NUMBER_CHARACTERS:
            raise _Refused("number_too_large", _("A number in the request body is too large."))
        value = parse(literal)
        if value in (math.inf, -math.inf):  # 1e999 overflows a float
            raise _Refused("number_too_large", _("A number in the request body is too large."))
        return value

    return parse_number


def _not_a_json_constant(literal: str):
    # Python's json reads NaN, Infinity and -Infinity, which JSON does not have.
    raise _Refused("invalid_json", _("%(literal)s is not JSON.") % {"literal": literal})


def _has_lone_surrogate(value) -> bool:
    """Whether any string (key or value) holds half of a UTF-16 surrogate pair ("\\ud800"
    alone): JSON's escapes can write one, but it is no character, cannot be encoded as UTF-8
    and so cannot be stored, logged or answered."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_body_parse(request):
    """The body as a JSON value, or raises _Refused. In this order: the media type is
    application/json; the bytes are UTF-8 (a leading byte order mark is ignored, as RFC 8259
    allows); arrays and objects nest at most PORTAL_API_MAX_JSON_DEPTH deep, checked before
    parsing; then the text is JSON with no key twice in an object (which of the two would
    count is up to each parser: a check and a use that disagree are a way past the check), no
    NaN or Infinity, no number longer than MAX_NUMBER_CHARACTERS or beyond a float, and no
    lone surrogate in any string. A body over DATA_UPLOAD_MAX_MEMORY_SIZE never gets here:
    reading request.body raises RequestDataTooBig (413)."""
    if request.content_type.lower() != JSON_MEDIA_TYPE:
        raise _Refused(
            "unsupported_media_type",
            _("Send the request body as JSON, with Content-Type: application/json."),
        )
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused("invalid_json", _("The request body is not valid UTF-8.")) from None
    text = text.removeprefix("\ufeff")
    limit = settings.PORTAL_API_MAX_JSON_DEPTH
    if json_nesting_exceeds(text, limit):
        raise _Refused(
            "json_too_deep",
            _("The request body nests arrays and objects more than %(limit)d deep.")
            % {"limit": limit},
        )
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_int=_number(int),
            parse_float=_number(float),
            parse_constant=_not_a_json_constant,
        )
    except (ValueError, RecursionError):
        # RecursionError cannot happen after the depth check; kept as a last guard.
        raise _Refused("invalid_json", _("The request body is not valid JSON.")) from None
    if _has_lone_surrogate(value):
        raise _Refused("invalid_json", _("The request body holds text that is not Unicode."))
    return value


class JsonParser(Parser):
    """Bodies are JSON objects (json_body_parse says what is refused, and why). A refused body
    is parsed as nothing: validation then fails on the body as a whole, and the error handler
    answers with the reason recorded here (ninja would answer a parser's exception with a
    plain 400, before the other parameters, such as the Idempotency-Key header, are looked
    at). Every refusal is a 400 with its own code (`invalid_json`, `json_too_deep`,
    `duplicate_keys`, `number_too_large`), but a body that is not JSON at all: 415
    `unsupported_media_type`.

    In a query string an empty parameter (`?status=`) counts as absent."""

    def parse_body(self, request):
        try:
            return json_body_parse(request)
        except _Refused as refused:
            status = 415 if refused.code == "unsupported_media_type" else 400
            setattr(request, BODY_ERROR_ATTRIBUTE, BodyError(status, refused.code, refused.message))
            return None

    def parse_querydict(self, data, list_fields, request):
        parsed = super().parse_querydict(data, list_fields, request)
        return {name: value for name, value in parsed.items() if value != ""}
