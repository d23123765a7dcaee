"""What every API endpoint shares: the route that authenticates the bearer token, scopes the
request to the token's tenant, asks for the endpoint's capability and honours the admin lock;
JSON errors; and the parsing of request bodies and query strings.

An endpoint is a plain function `(request, **path_kwargs) -> dict | JsonResponse` marked with
@endpoint; `route(get=..., post=...)` turns one or more of them into the view of one path."""

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from portal.errors import DomainError
from portal.roles import Cap
from portal.selectors import TenantAccess, admin_lock_get

from .selectors import api_token_authenticate
from .services import api_token_touch

log = logging.getLogger(__name__)

# Ids are PostgreSQL bigints: a larger number is not an id of anything (and must not reach
# the database, which would refuse it with an error rather than "no such row").
MAX_ID = 2**63 - 1


class ApiError(Exception):
    """An error answered as JSON: {"code": ..., "message": ..., "details": ...}."""

    def __init__(self, status: int, code: str, message, *, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = str(message)
        self.details = details
        self.headers = headers or {}


def error_response(status: int, code: str, message, *, details=None, headers=None):
    body = {"code": code, "message": str(message)}
    if details is not None:
        body["details"] = details
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# Domain errors whose code says the request conflicts with the current state of a resource
# rather than with a rule about its content.
CONFLICT_CODES = frozenset({"idempotency_key_reused", "upgrade_in_progress"})


def domain_error_response(error: DomainError):
    status = 409 if error.code in CONFLICT_CODES else 422
    details = getattr(error, "details", None)
    return error_response(status, error.code, error.message, details=details)


def answer_errors(view: Callable) -> Callable:
    """Every failure of the wrapped view becomes a JSON error, never an HTML page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            result = view(request, *args, **kwargs)
        except ApiError as error:
            return error_response(
                error.status,
                error.code,
                error.message,
                details=error.details,
                headers=error.headers,
            )
        except DomainError as error:
            return domain_error_response(error)
        except Http404:
            return error_response(404, "not_found", _("Not found."))
        except PermissionDenied as error:
            return error_response(
                403, "forbidden", str(error) or _("Your admin role does not allow this action.")
            )
        except RequestDataTooBig:
            return error_response(413, "request_too_large", _("The request body is too large."))
        except ValidationError as error:
            return error_response(400, "invalid_request", " ".join(error.messages))
        except Exception:
            # A bug: logged with its traceback, answered as JSON all the same.
            log.exception("API request failed: %s %s", request.method, request.path)
            return error_response(500, "server_error", _("Something went wrong on our side."))
        if isinstance(result, dict | list):
            return JsonResponse(result, safe=False)
        return result

    return wrapper


@dataclass(frozen=True)
class EndpointSpec:
    cap: Cap
    lock_exempt: bool


def endpoint(*, cap: Cap = Cap.VIEW, lock_exempt: bool = False):
    """Mark an endpoint function with the capability it needs. lock_exempt endpoints (reading
    upgrade status) stay reachable while the tenant is admin-locked."""

    def decorator(func):
        func.api_spec = EndpointSpec(cap=cap, lock_exempt=lock_exempt)
        return func

    return decorator


def bearer_token(request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(
            401,
            "unauthenticated",
            _("Send an API token in the Authorization header: Bearer <token>."),
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )
    return value.strip()


def api_access_get(request, tenant_slug: str) -> TenantAccess:
    """The admin the token belongs to, inside the tenant of the URL. A token works only in its
    own tenant: any other tenant is answered 404, as if it did not exist."""
    token = api_token_authenticate(raw=bearer_token(request))
    if token is None or not token.membership.user.is_active:
        raise ApiError(
            401,
            "invalid_token",
            _("The API token is not valid or has been revoked."),
            headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
        )
    membership = token.membership
    if membership.tenant.slug != tenant_slug:
        raise Http404
    api_token_touch(token=token)
    return TenantAccess(user=membership.user, tenant=membership.tenant, role=membership.role)


def admin_lock_check(access: TenantAccess) -> None:
    """423 while an upgrade locks the tenant's admin center (support engineers are never
    locked, but tokens belong to admins)."""
    lock = admin_lock_get(tenant_slug=access.tenant.slug)
    if lock is not None and not access.is_support:
        raise ApiError(
            423,
            "admin_locked",
            _(
                "An upgrade is in progress for %(tenant)s. The admin center is locked until it "
                "finishes; your users keep working as usual."
            )
            % {"tenant": access.tenant.name},
            details={"status_url": lock.status_url},
        )


def route(**handlers: Callable) -> Callable:
    """The view of one API path: `route(get=subscription_list, post=...)`."""
    methods = {name.upper(): handler for name, handler in handlers.items()}
    allow = ", ".join(sorted(methods))

    @csrf_exempt  # token requests carry no cookies, so there is nothing to forge
    @answer_errors
    def view(request, tenant_slug, **kwargs):
        handler = methods.get(request.method)
        if handler is None:
            raise ApiError(
                405,
                "method_not_allowed",
                _("This path does not accept %(method)s.") % {"method": request.method},
                headers={"Allow": allow},
            )
        access = api_access_get(request, tenant_slug)
        spec: EndpointSpec = handler.api_spec
        if not access.can(spec.cap):
            raise ApiError(403, "forbidden", _("Your admin role does not allow this action."))
        if not spec.lock_exempt:
            admin_lock_check(access)
        request.access = access
        request.tenant = access.tenant
        return handler(request, **kwargs)

    # The route checks the lock itself (the middleware knows only session users).
    view.lock_exempt = True
    view.api_methods = tuple(methods)
    return view


# --- Parsing -------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "invalid_json", _("The request body is not valid JSON.")) from error
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", _("The request body must be a JSON object."))
    return body


def invalid(field: str, message) -> ApiError:
    return ApiError(400, "invalid_request", message, details={"field": field})


def id_field(body: dict, name: str) -> int:
    value = body.get(name)
    # bool is an int in Python; true is not an id.
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise invalid(name, _("%(field)s must be a positive integer id.") % {"field": name})
    return value


def clean_text(value, *, field: str, max_length: int) -> str:
    """A string that can be stored: no control characters, valid UTF-8, not too long."""
    if not isinstance(value, str):
        raise invalid(field, _("%(field)s must be a string.") % {"field": field})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise invalid(field, _("%(field)s is not valid text.") % {"field": field}) from error
    if _CONTROL.search(value) or len(value) > max_length:
        raise invalid(
            field,
            _("%(field)s must be at most %(max)d characters without control characters.")
            % {"field": field, "max": max_length},
        )
    return value


def query_id(request, name: str, *, required: bool = False) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid(name, _("The %(field)s parameter is required.") % {"field": name})
        return None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise invalid(name, _("%(field)s must be a positive integer id.") % {"field": name})
    return int(raw)


def query_limit(request, *, default: int, maximum: int) -> int:
    raw = request.GET.get("limit")
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise invalid(
            "limit", _("limit must be a whole number from 1 to %(max)d.") % {"max": maximum}
        )
    return int(raw)


def query_choice(request, name: str, choices, *, default: str | None = None) -> str | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise invalid(
            name,
            _("%(field)s must be one of: %(choices)s.")
            % {"field": name, "choices": ", ".join(choices)},
        )
    return raw


_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")


def idempotency_key(request) -> str:
    """The Idempotency-Key header: required, 1 to 100 visible ASCII characters."""
    key = request.headers.get("Idempotency-Key", "")
    if not _IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "idempotency_key_required",
            _(
                "Send an Idempotency-Key header (1 to 100 visible ASCII characters, e.g. a "
                "UUID) so that a retried request cannot place a second order."
            ),
        )
    return key


def request_fingerprint(request, body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()
