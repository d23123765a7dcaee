"""What each admin role may do, and what each API token scope lets a token do within it. Views
and API calls ask for a capability, never for a role or a scope."""

from collections.abc import Iterable
from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Role


class Cap(StrEnum):
    VIEW = "view"
    PURCHASE = "purchase"  # buy, upgrade, cancel, change license counts
    PAYMENT = "payment"  # payment details, pay invoices
    LICENSES = "licenses"  # assign, unassign, replace licenses
    USERS = "users"  # manage directory users


ROLE_CAPS: dict[str, frozenset[Cap]] = {
    Role.GLOBAL_ADMIN: frozenset(Cap),
    Role.BILLING_ADMIN: frozenset({Cap.VIEW, Cap.PURCHASE, Cap.PAYMENT}),
    Role.LICENSE_ADMIN: frozenset({Cap.VIEW, Cap.LICENSES}),
    Role.USER_ADMIN: frozenset({Cap.VIEW, Cap.LICENSES, Cap.USERS}),
    Role.GLOBAL_READER: frozenset({Cap.VIEW}),
}
# Support engineers read every tenant and change nothing through the tenant pages.
SUPPORT_CAPS = frozenset({Cap.VIEW})


def caps_for(role: str | None, *, is_support: bool = False) -> frozenset[Cap]:
    if role:
        return ROLE_CAPS.get(role, frozenset())
    return SUPPORT_CAPS if is_support else frozenset()


def is_support(user) -> bool:
    return bool(user.is_authenticated and user.is_staff)


# --- API token scopes ---------------------------------------------------------------------------


class TokenScope(models.TextChoices):
    """What an API token may do, chosen when it is created. A token acts with its admin's role
    as it is at each request, narrowed to the capabilities of its scopes: a scope never gives
    what the role does not (token_caps). Stored by value in ApiToken.scopes."""

    READ = "read", _("Read")
    LICENSES = "licenses", _("Licenses")
    BILLING = "billing", _("Billing and upgrades")


TOKEN_SCOPE_CAPS: dict[TokenScope, frozenset[Cap]] = {
    TokenScope.READ: frozenset({Cap.VIEW}),
    TokenScope.LICENSES: frozenset({Cap.LICENSES}),
    TokenScope.BILLING: frozenset({Cap.PURCHASE, Cap.PAYMENT}),
}
# Every token can read: a token that could do nothing would be no token.
ALWAYS_GRANTED_SCOPE = TokenScope.READ
# Said on the tokens page under each scope's checkbox.
TOKEN_SCOPE_HELP: dict[TokenScope, str] = {
    TokenScope.READ: _("See subscriptions, licenses, eligibility and upgrade runs. Always on."),
    TokenScope.LICENSES: _("Assign, unassign and replace licenses."),
    TokenScope.BILLING: _("Place upgrades and other purchases; pay."),
}


def token_scope_for(cap: Cap) -> TokenScope | None:
    """The scope a token needs for `cap`; None when no scope grants it (no token may do it)."""
    return next((scope for scope, caps in TOKEN_SCOPE_CAPS.items() if cap in caps), None)


def token_scopes_normalized(scopes: Iterable[str]) -> list[TokenScope]:
    """Known scopes only, read always included, in the declared order (as stored). Unknown
    values are dropped: a scope renamed or removed later grants nothing."""
    chosen = {*scopes, ALWAYS_GRANTED_SCOPE}
    return [scope for scope in TokenScope if scope in chosen]


def token_caps(*, role_caps: frozenset[Cap], scopes: Iterable[str]) -> frozenset[Cap]:
    """A token's capabilities: its admin's role's, narrowed to its scopes (never widened)."""
    granted = frozenset().union(*(TOKEN_SCOPE_CAPS[s] for s in token_scopes_normalized(scopes)))
    return role_caps & granted


def token_scopes_for_role(role: str | None) -> list[TokenScope]:
    """The scopes an admin with this role may give a token: those whose every capability the
    role holds (a Global reader: read only)."""
    caps = caps_for(role)
    return [scope for scope in TokenScope if TOKEN_SCOPE_CAPS[scope] <= caps]
