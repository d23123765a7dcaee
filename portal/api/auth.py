"""The API's gate: the bearer token, the tenant of the path, the admin lock and the capability
of the operation, in that order. Each operation declares its instance, e.g.
`auth=TokenAuth(Cap.LICENSES)` or `auth=TokenAuth(Cap.VIEW, lock_exempt=True)`."""

from django.http import Http404
from django.utils.translation import gettext as _
from ninja.security import HttpBearer

from portal.roles import Cap
from portal.selectors import TenantAccess, admin_lock_get

from .errors import WWW_AUTHENTICATE, ApiError, unauthenticated_error
from .selectors import api_token_authenticate
from .services import api_token_touch


def admin_lock_check(access: TenantAccess) -> None:
    """423 while an upgrade locks the tenant's admin center (support engineers are never
    locked, but tokens belong to admins)."""
    lock = admin_lock_get(tenant_slug=access.tenant.slug)
    if lock is not None and not access.is_support:
        raise ApiError(423, "admin_locked", lock.message, details={"status_url": lock.status_url})


def _tenant_slug(request) -> str | None:
    match = getattr(request, "resolver_match", None)
    return match.kwargs.get("tenant_slug") if match is not None else None


class TokenAuth(HttpBearer):
    """Authenticates `Authorization: Bearer <token>` as the admin the token belongs to, inside
    the tenant of the path, for an operation that needs `cap`:

    1. 401 `unauthenticated` without a bearer token, 401 `invalid_token` for a token that is
       unknown or revoked or whose admin is no longer active;
    2. 404 for any tenant but the token's own (as if it did not exist);
    3. the token's last use is recorded;
    4. 423 `admin_locked` while an upgrade locks the tenant, whatever the admin's role, unless
       the operation is lock_exempt (reading upgrade status; placing an upgrade checks the lock
       itself so that a replay still gets its first result);
    5. 403 `forbidden` when the admin's role lacks `cap`.

    Sets request.access (a TenantAccess) and request.tenant for the handler. Every failure is
    raised as an error the exception handlers answer as JSON: ninja's own answer (a bare 401)
    is never used."""

    openapi_description = (
        "An API token created on the portal's API tokens page. It acts as its admin, with that "
        "admin's role, in that admin's tenant only."
    )

    def __init__(self, cap: Cap = Cap.VIEW, *, lock_exempt: bool = False):
        self.cap = cap
        self.lock_exempt = lock_exempt
        super().__init__()

    def __call__(self, request):
        header = request.headers.get(self.header, "")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != self.openapi_scheme or not value.strip():
            raise unauthenticated_error()
        return self.authenticate(request, value.strip())

    def authenticate(self, request, token: str) -> TenantAccess:
        api_token = api_token_authenticate(raw=token)
        if api_token is None or not api_token.membership.user.is_active:
            raise ApiError(
                401,
                "invalid_token",
                _("The API token is not valid or has been revoked."),
                headers={"WWW-Authenticate": f'{WWW_AUTHENTICATE}, error="invalid_token"'},
            )
        membership = api_token.membership
        if membership.tenant.slug != _tenant_slug(request):
            raise Http404
        api_token_touch(token=api_token)
        access = TenantAccess(user=membership.user, tenant=membership.tenant, role=membership.role)
        if not self.lock_exempt:
            admin_lock_check(access)
        if not access.can(self.cap):
            raise ApiError(403, "forbidden", _("Your admin role does not allow this action."))
        request.access = access
        request.tenant = access.tenant
        return access
