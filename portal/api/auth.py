"""The API's gate: the client address, the bearer token, its expiry, the tenant of the path, the
admin lock, the admin's role and the token's scopes, in that order (TokenAuth). Each operation
declares its instance, e.g. `auth=TokenAuth(Cap.LICENSES)` or
`auth=TokenAuth(Cap.VIEW, lock_exempt=True)`; the OpenAPI document says, from that instance,
which scope the operation needs."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from portal import clock
from portal.roles import (
    Cap,
    TokenScope,
    token_caps,
    token_scope_for,
    token_scopes_normalized,
)
from portal.selectors import TenantAccess, admin_lock_get

# The sign-in throttle's notion of the client address (None when unreadable: such requests
# are not throttled together).
from portal.signin import client_address

from .errors import WWW_AUTHENTICATE, ApiError, unauthenticated_error
from .selectors import api_token_authenticate, api_token_retry_after
from .services import api_token_failure_record, api_token_touch

# How the OpenAPI document explains each scope (English, as the rest of the document).
SCOPE_DOCS = {
    TokenScope.READ: "read subscriptions, licenses, eligibility and upgrade runs; every token "
    "has it",
    TokenScope.LICENSES: "assign, unassign and replace licenses",
    TokenScope.BILLING: "place upgrades (and other purchases) and pay",
}
assert set(SCOPE_DOCS) == set(TokenScope), "describe every token scope"  # noqa: S101

THROTTLED_DESCRIPTION = (
    "Too many invalid tokens from this client address (`too_many_requests`): every token "
    "request from it is refused until the number of seconds in the Retry-After header has "
    "passed."
)
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def admin_lock_check(access: TenantAccess) -> None:
    """423 while an upgrade locks the tenant's admin center (support engineers are never
    locked, but tokens belong to admins)."""
    lock = admin_lock_get(tenant_slug=access.tenant.slug)
    if lock is not None and not access.is_support:
        raise ApiError(423, "admin_locked", lock.message, details={"status_url": lock.status_url})


def _tenant_slug(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.kwargs.get("tenant_slug") if match is not None else None


class TokenAccess(TenantAccess):
    """The acting admin through an API token: `caps` is the admin's role (as it is now)
    narrowed to the token's scopes, so whatever a handler asks of request.access holds the
    scopes too; `role_caps` is the role alone."""

    def __init__(self, *, user, tenant, role: str, scopes):
        super().__init__(user=user, tenant=tenant, role=role)
        self.scopes = token_scopes_normalized(scopes)
        self.caps = token_caps(role_caps=self.role_caps, scopes=self.scopes)


def _scopes_description() -> str:
    return "; ".join(f"`{scope.value}`: {SCOPE_DOCS[scope]}" for scope in TokenScope)


class TokenAuth(HttpBearer):
    """Authenticates `Authorization: Bearer <token>` as the admin the token belongs to, inside
    the tenant of the path, for an operation that needs `cap`. In this order:

    1. 401 `unauthenticated` without a bearer token;
    2. 429 `too_many_requests` (with Retry-After) while the client address is held back for
       presenting too many invalid tokens, before any token is looked up;
    3. 401 `invalid_token` for a token that is unknown or revoked or whose admin is no longer
       active; this counts one failure against the address (selectors.api_token_retry_after);
    4. 401 `token_expired` for a real token past its expiry (not counted: it is no guess);
       both 401s are the same on every path, so they tell nothing about any tenant;
    5. 404 for any tenant but the token's own (as if it did not exist): only from here on may
       an answer differ with the token's tenant;
    6. the token's last use is recorded;
    7. 423 `admin_locked` while an upgrade locks the tenant, whatever the role and scopes,
       unless the operation is lock_exempt (reading upgrade status; placing an upgrade checks
       the lock itself so that a replay still gets its first result);
    8. 403 `forbidden` when the admin's role lacks `cap`: no token of this admin could do it;
    9. 403 `insufficient_scope` when the role allows it but the token's scopes do not: a token
       with the scope named in details.required_scope would.

    The token, its admin and their role are read from the database at every request, nothing
    cached: a revoked token or a changed role holds from the next request. Sets request.access
    (a TokenAccess) and request.tenant for the handler. Every failure is raised as an error the
    exception handlers answer as JSON: ninja's own answer (a bare 401) is never used."""

    openapi_description = (
        "An API token created on the portal's API tokens page. It acts as its admin, in that "
        "admin's tenant only, with that admin's role at each request narrowed to the token's "
        "scopes (a scope never widens the role). Scopes: "
        + _scopes_description()
        + ". Each operation names the scope it needs in its security requirement and in "
        "`x-required-scope`. A token without it is refused 403 `insufficient_scope`, a role "
        "without it 403 `forbidden`; an expired token 401 `token_expired`."
    )

    def __init__(self, cap: Cap = Cap.VIEW, *, lock_exempt: bool = False):
        self.cap = cap
        self.lock_exempt = lock_exempt
        super().__init__()

    @property
    def required_scope(self) -> TokenScope | None:
        return token_scope_for(self.cap)

    def operation_openapi_extra(self) -> dict:
        """What the OpenAPI document says of an operation behind this gate (applied by
        config/api.py): the scope it needs, and the 429 every token request may get."""
        scopes = [self.required_scope.value] if self.required_scope else []
        return {
            "security": [{type(self).__name__: scopes}],
            "x-required-scope": scopes[0] if scopes else None,
            "responses": {429: {"description": THROTTLED_DESCRIPTION, "content": ERROR_CONTENT}},
        }

    def __call__(self, request):
        header = request.headers.get(self.header, "")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != self.openapi_scheme or not value.strip():
            raise unauthenticated_error()
        return self.authenticate(request, value.strip())

    def authenticate(self, request, token: str) -> TokenAccess:
        address = client_address(request)
        retry_after = api_token_retry_after(address=address) if address else None
        if retry_after is not None:
            raise ApiError(
                429,
                "too_many_requests",
                _(
                    "Too many invalid API tokens were sent from your address. Try again in "
                    "%(seconds)d seconds."
                )
                % {"seconds": retry_after},
                details={"retry_after": retry_after},
                headers={"Retry-After": str(retry_after)},
            )
        api_token = api_token_authenticate(raw=token)
        if api_token is None or not api_token.membership.user.is_active:
            if address:
                api_token_failure_record(address=address)
            raise ApiError(
                401,
                "invalid_token",
                _("The API token is not valid or has been revoked."),
                headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'},
            )
        now = clock.now()
        if api_token.expires_at <= now:
            raise ApiError(
                401,
                "token_expired",
                _("The API token expired on %(date)s. Create a new one on the API tokens page.")
                % {"date": api_token.expires_at.date().isoformat()},
                details={"expired_at": api_token.expires_at.isoformat()},
                headers={
                    "WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token", '
                    'error_description="The token has expired"'
                },
            )
        membership = api_token.membership
        if membership.tenant.slug != _tenant_slug(request):
            raise Http404
        api_token_touch(token=api_token, now=now)
        access = TokenAccess(
            user=membership.user,
            tenant=membership.tenant,
            role=membership.role,
            scopes=api_token.scopes,
        )
        if not self.lock_exempt:
            admin_lock_check(access)
        if self.cap not in access.role_caps:
            raise ApiError(403, "forbidden", _("Your admin role does not allow this action."))
        if not access.can(self.cap):
            raise self._insufficient_scope(access)
        request.access = access
        request.tenant = access.tenant
        return access

    def _insufficient_scope(self, access: TokenAccess) -> ApiError:
        scope = self.required_scope
        if scope is None:  # no scope grants it: no token may do it, whatever the role
            return ApiError(403, "forbidden", _("API tokens cannot do this; use the portal."))
        return ApiError(
            403,
            "insufficient_scope",
            _(
                "This API token does not have the “%(scope)s” scope this action needs. Create "
                "a token with it on the API tokens page."
            )
            % {"scope": scope.label},
            details={
                "required_scope": scope.value,
                "token_scopes": [s.value for s in access.scopes],
            },
            headers={
                "WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="insufficient_scope", '
                f'scope="{scope.value}"'
            },
        )
