"""Assign, unassign and replace licenses: the writes of the licensing app.

Each service validates the whole request first and changes nothing when any part of it is wrong
(one DomainError with a message fit for an admin and a `code`). It then applies the change
set-based, in batches, inside one transaction that holds row locks on the subscriptions involved
(taken in pk order, so that two admins moving users in opposite directions cannot deadlock),
refuses a tenant an upgrade has admin-locked (portal.services.admin_lock_enforce), and writes one
audit event. The browser pages pass max_users=20; the API and the CLI pass None."""

from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from billing.lifecycle import CAN_ASSIGN, subscription_activate_if_ready
from billing.models import AddonScope, Status, Subscription
from portal import clock
from portal.errors import DomainError
from portal.models import Tenant
from portal.services import admin_lock_enforce, audit_event_record

from .models import DirectoryUser, LicenseAssignment

BATCH_SIZE = 1000
BROWSER_MAX_USERS = 20
# Names quoted in an error message ("Ada Li, Bo Smit and 3 more"): enough to find them.
NAMES_IN_MESSAGE = 3
# User ids kept in the audit event; the count is always exact.
AUDIT_USER_IDS = 100


def _batches(ids: list[int], size: int = BATCH_SIZE) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _check_selection(user_ids: list[int], max_users: int | None) -> list[int]:
    if not user_ids:
        raise DomainError(_("Select at least one user."), code="no_users")
    try:
        ids = [int(pk) for pk in user_ids]
    except (TypeError, ValueError) as error:
        raise DomainError(
            _("The selection contains an invalid user id."), code="invalid_user_id"
        ) from error
    if len(set(ids)) != len(ids):
        raise DomainError(_("The same user is selected more than once."), code="duplicate_users")
    if max_users is not None and len(ids) > max_users:
        raise DomainError(
            ngettext(
                "Select at most %(max)d user at a time (you selected %(count)d).",
                "Select at most %(max)d users at a time (you selected %(count)d).",
                max_users,
            )
            % {"max": max_users, "count": len(ids)},
            code="too_many_users",
        )
    return ids


def _check_users_in_tenant(tenant: Tenant, ids: list[int]) -> None:
    found = 0
    for batch in _batches(ids):
        found += DirectoryUser.objects.filter(tenant=tenant, pk__in=batch).count()
    if found != len(ids):
        raise DomainError(
            _("Some selected users are not in this organisation's directory."),
            code="unknown_users",
        )


def _lock_subscriptions(tenant: Tenant, ids: Iterable[int]) -> dict[int, Subscription]:
    """Lock the subscriptions in pk order (only their own rows, never the shared catalog)."""
    wanted = sorted(set(ids))
    locked = {
        s.pk: s
        for s in Subscription.objects.select_for_update(of=("self",))
        .select_related("product")
        .filter(tenant=tenant, pk__in=wanted)
        .exclude(status=Status.DELETED)
        .order_by("pk")
    }
    if len(locked) != len(wanted):
        raise DomainError(_("That subscription does not exist."), code="not_found")
    for subscription in locked.values():
        # A subscription whose set-up finished since the last periodic run is Active now.
        subscription_activate_if_ready(subscription=subscription)
    return locked


def _names(tenant: Tenant, ids: list[int]) -> str:
    names = list(
        DirectoryUser.objects.filter(tenant=tenant, pk__in=ids[: NAMES_IN_MESSAGE * 10])
        .order_by("display_name", "pk")
        .values_list("display_name", flat=True)[:NAMES_IN_MESSAGE]
    )
    text = ", ".join(names)
    if len(ids) > len(names):
        text += " " + _("and %(count)d more") % {"count": len(ids) - len(names)}
    return text


def _holders(subscription: Subscription, ids: list[int]) -> list[int]:
    """Which of the ids hold a license of the subscription."""
    held: list[int] = []
    for batch in _batches(ids):
        held += LicenseAssignment.objects.filter(
            subscription=subscription, user_id__in=batch
        ).values_list("user_id", flat=True)
    return held


def _check_assignable(subscription: Subscription) -> None:
    if subscription.status not in CAN_ASSIGN:
        raise DomainError(
            _(
                "Licenses of %(product)s cannot be assigned while the subscription is "
                "%(status)s. Only active subscriptions take new users."
            )
            % {
                "product": subscription.product.name,
                "status": Status(subscription.status).label.lower(),
            },
            code="not_active",
        )
    if subscription.product.addon_scope == AddonScope.TENANT:
        raise DomainError(
            _("%(product)s is capacity for the whole organisation, not a per-user license.")
            % {"product": subscription.product.name},
            code="not_assignable",
        )


def _check_free(subscription: Subscription, adding: int) -> None:
    assigned = LicenseAssignment.objects.filter(subscription=subscription).count()
    free = subscription.quantity - assigned
    if adding > free:
        raise DomainError(
            _(
                "Not enough free licenses of %(product)s: %(free)d free, %(count)d users "
                "selected. Buy more licenses or select fewer users."
            )
            % {"product": subscription.product.name, "free": max(free, 0), "count": adding},
            code="not_enough_licenses",
        )


def _check_none_hold(tenant: Tenant, subscription: Subscription, ids: list[int]) -> None:
    already = _holders(subscription, ids)
    if already:
        raise DomainError(
            _("%(names)s already hold a license of %(product)s.")
            % {"names": _names(tenant, already), "product": subscription.product.name},
            code="already_assigned",
        )


def _check_all_hold(tenant: Tenant, subscription: Subscription, ids: list[int]) -> None:
    held = set(_holders(subscription, ids))
    missing = [pk for pk in ids if pk not in held]
    if missing:
        raise DomainError(
            _("%(names)s do not hold a license of %(product)s.")
            % {"names": _names(tenant, missing), "product": subscription.product.name},
            code="not_assigned",
        )


def _audit(*, tenant, actor, action: str, target: str, ids: list[int], data: dict) -> None:
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action=action,
        target=target,
        data={
            **data,
            "users": len(ids),
            "user_ids": ids[:AUDIT_USER_IDS],
            "user_ids_truncated": len(ids) > AUDIT_USER_IDS,
        },
    )


def license_assign(
    *,
    tenant: Tenant,
    actor,
    subscription_id: int,
    user_ids: list[int],
    max_users: int | None = BROWSER_MAX_USERS,
) -> int:
    """Give each user a license of the subscription. Returns how many users changed."""
    ids = _check_selection(user_ids, max_users)
    with transaction.atomic():
        subscription = _lock_subscriptions(tenant, [subscription_id])[int(subscription_id)]
        admin_lock_enforce(tenant=tenant, actor=actor)
        _check_users_in_tenant(tenant, ids)
        _check_assignable(subscription)
        _check_none_hold(tenant, subscription, ids)
        _check_free(subscription, len(ids))
        now = clock.now()
        LicenseAssignment.objects.bulk_create(
            [
                LicenseAssignment(
                    tenant=tenant, user_id=pk, subscription=subscription, assigned_at=now
                )
                for pk in ids
            ],
            batch_size=BATCH_SIZE,
        )
        _audit(
            tenant=tenant,
            actor=actor,
            action="license.assign",
            target=f"subscription:{subscription.pk}",
            ids=ids,
            data={"product": subscription.product.code},
        )
    return len(ids)


def license_unassign(
    *,
    tenant: Tenant,
    actor,
    subscription_id: int,
    user_ids: list[int],
    max_users: int | None = BROWSER_MAX_USERS,
) -> int:
    """Take the subscription's license away from each user. Allowed in every state but
    Deleted: unassigning is how an admin resolves a licensing conflict or empties a plan."""
    ids = _check_selection(user_ids, max_users)
    with transaction.atomic():
        subscription = _lock_subscriptions(tenant, [subscription_id])[int(subscription_id)]
        admin_lock_enforce(tenant=tenant, actor=actor)
        _check_users_in_tenant(tenant, ids)
        _check_all_hold(tenant, subscription, ids)
        for batch in _batches(ids):
            LicenseAssignment.objects.filter(subscription=subscription, user_id__in=batch).delete()
        _audit(
            tenant=tenant,
            actor=actor,
            action="license.unassign",
            target=f"subscription:{subscription.pk}",
            ids=ids,
            data={"product": subscription.product.code},
        )
    return len(ids)


def license_replace(
    *,
    tenant: Tenant,
    actor,
    source_id: int,
    target_id: int,
    user_ids: list[int],
    max_users: int | None = BROWSER_MAX_USERS,
) -> int:
    """Move each user's license from the source subscription to the target in one step. The
    existing assignment rows are re-pointed (never deleted and re-created), so at every instant
    each user holds a license on exactly one of the two; no other license they hold is touched.
    Per-user service toggles are reset, because the target's services differ."""
    ids = _check_selection(user_ids, max_users)
    if int(source_id) == int(target_id):
        raise DomainError(
            _("Pick a different subscription to move the users to."), code="same_subscription"
        )
    with transaction.atomic():
        locked = _lock_subscriptions(tenant, [source_id, target_id])
        admin_lock_enforce(tenant=tenant, actor=actor)
        source, target = locked[int(source_id)], locked[int(target_id)]
        _check_users_in_tenant(tenant, ids)
        if source.is_addon != target.is_addon:
            raise DomainError(
                _("Licenses can be replaced only between two plans or between two add-ons."),
                code="kind_mismatch",
            )
        _check_assignable(target)
        _check_all_hold(tenant, source, ids)
        _check_none_hold(tenant, target, ids)
        _check_free(target, len(ids))
        now = clock.now()
        for batch in _batches(ids):
            LicenseAssignment.objects.filter(subscription=source, user_id__in=batch).update(
                subscription=target, assigned_at=now, disabled_services=[]
            )
        _audit(
            tenant=tenant,
            actor=actor,
            action="license.replace",
            target=f"subscription:{target.pk}",
            ids=ids,
            data={
                "source": source.pk,
                "target": target.pk,
                "source_product": source.product.code,
                "target_product": target.product.code,
            },
        )
    return len(ids)
