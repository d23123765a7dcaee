"""The API's errors: every failure is answered as JSON `{"code", "message", "details"?}` with a
stable code, never as an HTML page; the exception handlers that map what the authentication and
the handlers raise to that shape; and how an operation documents the errors it can answer."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from portal.errors import DomainError

from .fields import BODY_ERROR_ATTRIBUTE, IDEMPOTENCY_KEY_HEADER

log = logging.getLogger(__name__)

WWW_AUTHENTICATE = 'Bearer realm="api"'

# Domain errors whose code says the request conflicts with the current state of a resource
# rather than with a rule about its content.
CONFLICT_CODES = frozenset({"idempotency_key_reused", "upgrade_in_progress", "run_not_scheduled"})
# A write service refusing a locked tenant answers as the authentication does: 423.
LOCKED_CODE = "admin_locked"

# How many validation errors are listed in details.errors: a request naming 50,000 users that
# are all malformed must not get a 50,000-entry answer.
MAX_LISTED_ERRORS = 20


class ApiError(Exception):
    """An error answered as JSON: {"code": ..., "message": ..., "details": ...}."""

    def __init__(self, status: int, code: str, message, *, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = str(message)
        self.details = details
        self.headers = headers or {}


class Error(Schema):
    """Every error the API answers."""

    code: str = Field(description="Stable, machine-readable reason.")
    message: str = Field(description="Fit to show an admin.")
    details: Any = Field(None, description="Offending fields or users, when there are any.")


def error_response(status: int, code: str, message, *, details=None, headers=None):
    body = {"code": code, "message": str(message)}
    if details is not None:
        body["details"] = details
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def not_found_response():
    return error_response(404, "not_found", _("Not found."))


def method_not_allowed_response(request, allow: list[str]):
    return error_response(
        405,
        "method_not_allowed",
        _("This path does not accept %(method)s.") % {"method": request.method},
        headers={"Allow": ", ".join(sorted(allow))},
    )


def unauthenticated_error() -> ApiError:
    return ApiError(
        401,
        "unauthenticated",
        _("Send an API token in the Authorization header: Bearer <token>."),
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def idempotency_key_required_response():
    return error_response(
        400,
        "idempotency_key_required",
        _(
            "Send an Idempotency-Key header (1 to 100 visible ASCII characters, e.g. a "
            "UUID) so that a retried request cannot place a second order."
        ),
    )


# --- Documentation -------------------------------------------------------------------------

ERROR_DESCRIPTIONS = {
    400: "Malformed request: not JSON (`invalid_json`), nested too deep (`json_too_deep`), "
    "a key twice in an object (`duplicate_keys`), a number too large (`number_too_large`), "
    "a missing, unknown or mistyped field or parameter (`invalid_request`).",
    401: "No token, a token that is not valid or has been revoked (`invalid_token`), or one "
    "past its expiry (`token_expired`).",
    403: "The admin's role does not allow this action (`forbidden`), or the token's scopes do "
    "not (`insufficient_scope`; details.required_scope names the scope).",
    404: "No such resource in this tenant (another tenant's data is never acknowledged).",
    409: "The request conflicts with the current state (e.g. an idempotency key reused "
    "with a different body, or an upgrade already in progress).",
    413: "The request body is too large.",
    415: "The request body is not sent as JSON (Content-Type: application/json).",
    422: "Well-formed, but refused by a product rule; nothing was changed.",
    423: "An upgrade is in progress: the tenant's admin center is locked until it ends.",
    429: "Too many invalid tokens from this client address (`too_many_requests`); retry "
    "after the Retry-After header's seconds.",
    500: "Something went wrong on our side; nothing was half-done.",
}
# Every operation authenticates (401), answers another tenant as if it did not exist (404) and
# may meet a bug (500).
COMMON_ERRORS = (401, 404, 429, 500)


def api_responses(success: dict[int, Any], *errors: int) -> dict:
    """The `response` and `openapi_extra` arguments of an operation: its success response and
    the errors it can answer besides COMMON_ERRORS, each with the Error schema and what it
    means. Use: @router.get(path, **api_responses({200: Thing}, 400, 403, 423)).

    An operation that takes a body (and so lists 413) can also be sent a body of another
    media type: 415 is listed with it."""
    statuses = sorted({*COMMON_ERRORS, *errors, *((415,) if 413 in errors else ())})
    return {
        "response": {**success, **dict.fromkeys(statuses, Error)},
        "openapi_extra": {
            "responses": {
                status: {"description": ERROR_DESCRIPTIONS[status]} for status in statuses
            }
        },
    }


# --- Exception handlers --------------------------------------------------------------------


def _api_error(request, error: ApiError):
    return error_response(
        error.status, error.code, error.message, details=error.details, headers=error.headers
    )


def _domain_error(request, error: DomainError):
    if error.code == LOCKED_CODE:
        status = 423
    elif error.code in CONFLICT_CODES:
        status = 409
    else:
        status = 422
    details = getattr(error, "details", None)
    return error_response(status, error.code, error.message, details=details)


def _not_found(request, error: Http404):
    return not_found_response()


def _permission_denied(request, error: PermissionDenied):
    return error_response(
        403, "forbidden", str(error) or _("Your admin role does not allow this action.")
    )


def _too_large(request, error: RequestDataTooBig):
    return error_response(413, "request_too_large", _("The request body is too large."))


def _django_validation_error(request, error: DjangoValidationError):
    return error_response(400, "invalid_request", " ".join(error.messages))


def _field_path(loc) -> list[str]:
    """ninja locates an error as (source, [body parameter,] field, ...): keep the field, e.g.
    ("body", "body", "users", 3) -> ["users", "3"], ("query", "limit") -> ["limit"]."""
    path = loc[2:] if loc and loc[0] == "body" else loc[1:]
    return [str(part) for part in path] or [str(part) for part in loc[:1]]


def _validation_error(request, error: NinjaValidationError):
    """The request does not fit the operation's schema. In the order the API has always
    checked: the Idempotency-Key header, then whether the body could be parsed at all (the
    parser's reason: fields.JsonParser), then whether it is a JSON object, then its fields and
    the query parameters (400 invalid_request, the fields in details)."""
    errors = error.errors
    if any(tuple(e["loc"][:2]) == ("header", IDEMPOTENCY_KEY_HEADER) for e in errors):
        return idempotency_key_required_response()
    refused = getattr(request, BODY_ERROR_ATTRIBUTE, None)
    if refused is not None:
        return error_response(refused.status, refused.code, refused.message)
    if any(e["loc"] and e["loc"][0] == "body" and len(e["loc"]) <= 2 for e in errors):
        return error_response(400, "invalid_json", _("The request body must be a JSON object."))

    paths = [_field_path(e["loc"]) for e in errors]
    listed = [
        {"field": ".".join(path), "message": e["msg"]}
        for path, e in zip(paths, errors, strict=True)
    ]
    fields = sorted({path[0] for path in paths})
    unknown = sorted(
        path[0] for path, e in zip(paths, errors, strict=True) if e["type"] == "extra_forbidden"
    )
    if unknown and len(unknown) == len(errors):
        message = _("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)}
    else:
        message = "; ".join(f"{item['field']}: {item['message']}" for item in listed[:3])
        if len(listed) > 3:
            message += " …"
    details = {
        # The first field in the schema's order that is wrong (the only one the API used to
        # name), then every offending field, then each error.
        "field": paths[0][0] if paths else None,
        "fields": fields,
        "errors": listed[:MAX_LISTED_ERRORS],
    }
    return error_response(400, "invalid_request", message, details=details)


def _http_error(request, error: HttpError):
    """ninja's own errors (none is expected: the authentication raises ApiError)."""
    if isinstance(error, AuthenticationError):
        return _api_error(request, unauthenticated_error())
    codes = {400: "invalid_request", 403: "forbidden", 404: "not_found", 429: "too_many_requests"}
    return error_response(error.status_code, codes.get(error.status_code, "error"), str(error))


def _server_error(request, error: Exception):
    # A bug: logged with its traceback, answered as JSON all the same.
    log.error("API request failed: %s %s", request.method, request.path, exc_info=error)
    return error_response(500, "server_error", _("Something went wrong on our side."))


# Registered on the NinjaAPI by config/api.py; ninja picks the handler of the most specific
# class, so Exception catches only what nothing else does.
EXCEPTION_HANDLERS = {
    ApiError: _api_error,
    DomainError: _domain_error,
    Http404: _not_found,
    PermissionDenied: _permission_denied,
    RequestDataTooBig: _too_large,
    DjangoValidationError: _django_validation_error,
    NinjaValidationError: _validation_error,
    HttpError: _http_error,
    Exception: _server_error,
}
