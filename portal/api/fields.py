"""What a request to the API may contain, shared by every app's endpoints: ids, text, query
parameters, the tenant of the path and the Idempotency-Key header; the parser of request
bodies and query strings; and the timestamps of answers.

Input is strict: a JSON `true` or `"1"` is not an id, a number is not text, and the input
schemas refuse unknown fields (`model_config = ConfigDict(extra="forbid")`). A violation is
answered 400 `invalid_request` with the offending fields (see errors.py)."""

import json
import re
from typing import Annotated

from django.utils.translation import gettext as _
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


class JsonParser(Parser):
    """Bodies are JSON objects. A body that is not JSON at all is parsed as nothing: validation
    then fails on the body as a whole, and the error handler answers 400 `invalid_json` with
    the reason recorded here (ninja would answer a parser's exception with a plain 400, before
    the other parameters, such as the Idempotency-Key header, are looked at).

    In a query string an empty parameter (`?status=`) counts as absent."""

    def parse_body(self, request):
        try:
            return json.loads(request.body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            setattr(request, BODY_ERROR_ATTRIBUTE, _("The request body is not valid JSON."))
            return None

    def parse_querydict(self, data, list_fields, request):
        parsed = super().parse_querydict(data, list_fields, request)
        return {name: value for name, value in parsed.items() if value != ""}
