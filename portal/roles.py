"""What each admin role may do. Views and API calls ask for a capability, never for a role."""

from enum import StrEnum

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
