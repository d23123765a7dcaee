"""Bulk license work for the API and the management commands: naming users by user principal
name (UPN), and paging through a subscription's holders. The writes themselves are the licensing
services (license_assign / license_unassign / license_replace with max_users=None)."""

from collections.abc import Callable, Sequence

from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from portal.errors import DomainError
from portal.models import Tenant

from .models import DirectoryUser, LicenseAssignment

RESOLVE_BATCH = 2000
# Offending names listed in an error's details (the counts are always exact).
NAMES_IN_DETAILS = 100
NAMES_IN_MESSAGE = 5


class UserSelectionError(DomainError):
    """Some named users cannot be used; `details` lists them for an integrator to fix."""

    def __init__(self, message, *, code: str, details: dict):
        super().__init__(message, code=code)
        self.details = details


def _listed(names: list[str]) -> str:
    text = ", ".join(names[:NAMES_IN_MESSAGE])
    if len(names) > NAMES_IN_MESSAGE:
        text += " " + _("and %(count)d more") % {"count": len(names) - NAMES_IN_MESSAGE}
    return text


def directory_user_ids_for_upns(
    *,
    tenant: Tenant,
    upns: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """The ids of the tenant's users named by `upns`, in the same order. UPNs match exactly or,
    failing that, ignoring case (as the directory does) when that names exactly one user.
    Refuses the whole list, naming the offenders, when any UPN is not a user of this tenant
    (another tenant's users are simply unknown here) or names a user already named."""
    found: dict[str, int] = {}
    for start in range(0, len(upns), RESOLVE_BATCH):
        batch = list(dict.fromkeys(upns[start : start + RESOLVE_BATCH]))
        found.update(
            DirectoryUser.objects.filter(tenant=tenant, upn__in=batch).values_list("upn", "pk")
        )
        missing = [upn for upn in batch if upn not in found]
        if missing:
            by_key: dict[str, list[int]] = {}
            rows = (
                DirectoryUser.objects.filter(tenant=tenant)
                .annotate(upn_key=Lower("upn"))
                .filter(upn_key__in={upn.lower() for upn in missing})
                .values_list("upn_key", "pk")
            )
            for key, pk in rows:
                by_key.setdefault(key, []).append(pk)
            for upn in missing:
                matches = by_key.get(upn.lower(), [])
                if len(matches) == 1:
                    found[upn] = matches[0]
        if progress is not None:
            progress(min(start + RESOLVE_BATCH, len(upns)), len(upns))

    unknown = list(dict.fromkeys(upn for upn in upns if upn not in found))
    if unknown:
        raise UserSelectionError(
            _("These users are not in this organisation's directory: %(names)s.")
            % {"names": _listed(unknown)},
            code="unknown_users",
            details={"count": len(unknown), "users": unknown[:NAMES_IN_DETAILS]},
        )
    seen: set[int] = set()
    duplicates: list[str] = []
    ids: list[int] = []
    for upn in upns:
        pk = found[upn]
        if pk in seen:
            duplicates.append(upn)
        seen.add(pk)
        ids.append(pk)
    if duplicates:
        duplicates = list(dict.fromkeys(duplicates))
        raise UserSelectionError(
            _("These users are named more than once: %(names)s.") % {"names": _listed(duplicates)},
            code="duplicate_users",
            details={"count": len(duplicates), "users": duplicates[:NAMES_IN_DETAILS]},
        )
    return ids


def license_holder_page(*, tenant: Tenant, subscription_id: int, after: int | None, limit: int):
    """Holders of a subscription's licenses ordered by user id, from after `after` (keyset)."""
    rows = (
        LicenseAssignment.objects.filter(tenant=tenant, subscription_id=subscription_id)
        .order_by("user_id")
        .values("user_id", "user__upn", "user__display_name", "assigned_at")
    )
    if after is not None:
        rows = rows.filter(user_id__gt=after)
    rows = list(rows[: limit + 1])
    return rows[:limit], len(rows) > limit
