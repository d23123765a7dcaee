from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.utils.translation import gettext as _

from . import clock
from .actors import recorded_actor
from .errors import AdminLocked
from .models import (
    AdminLock,
    AuditEvent,
    Membership,
    Notification,
    NotificationRead,
    ServiceIncident,
    Tenant,
)
from .roles import is_support


def audit_event_record(
    *, tenant, actor, action: str, target: str = "", reason: str = "", data: dict | None = None
) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=recorded_actor(actor),
        action=action,
        target=target,
        reason=reason,
        data=data or {},
        created_at=clock.now(),
    )


def notification_create(
    *, tenant: Tenant, message: str, level: str = Notification.Level.INFO, link: str = ""
) -> Notification:
    # A link is a path of this site: never another site, never a javascript: URL.
    if link and not (link.startswith("/") and not link.startswith("//")):
        raise ValueError(f"A notification links to a path of the portal, not {link!r}")
    return Notification.objects.create(
        tenant=tenant, message=message, level=level, link=link, created_at=clock.now()
    )


def notification_mark_read(*, tenant: Tenant, user, notification_ids=None) -> int:
    """Mark the tenant's notifications read for one admin: those listed, or all of them. Read
    state is the admin's own, so any admin role may keep it; a support engineer, who is no
    admin of the tenant, has none and is refused. Returns how many became read."""
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise PermissionDenied(
            _("Only the organisation's own admins have notifications to mark as read.")
        )
    unread = Notification.objects.filter(tenant=tenant).exclude(reads__user=user)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    now = clock.now()
    with transaction.atomic():
        # ignore_conflicts: a second tab marking the same notification is not an error.
        created = NotificationRead.objects.bulk_create(
            [
                NotificationRead(notification_id=pk, user=user, read_at=now)
                for pk in unread.values_list("pk", flat=True)
            ],
            ignore_conflicts=True,
        )
    return len(created)


def admin_lock_acquire(
    *, tenant: Tenant, holder: models.Model, reason: str, status_url: str = ""
) -> AdminLock:
    """Set the tenant's blocking state, held by `holder` (a saved row of any model). The caller
    owns the transaction; a tenant has at most one lock (the one-to-one key is the guard)."""
    return AdminLock.objects.create(
        tenant=tenant, holder=holder, reason=reason, status_url=status_url, since=clock.now()
    )


def admin_lock_enforce(*, tenant: Tenant, actor) -> None:
    """The admin lock as a domain rule: raise AdminLocked (with the message the tenant's admins
    read on the lock page) when the tenant is locked, unless the actor is a support engineer.

    Every write service an admin can reach (page, API or command) calls it inside its own
    transaction, after taking its own row locks: a write that waited for a row held by the
    transaction setting the lock then reads the committed lock (no read after the wait can miss
    it). The run holding the lock never goes through these services (it calls the low-level
    steps: subscription_create, the lifecycle transitions), so it is never refused."""
    if actor is not None and is_support(actor):
        return
    lock = AdminLock.objects.filter(tenant=tenant).select_related("tenant").first()
    if lock is not None:
        raise AdminLocked(lock.message, status_url=lock.status_url)


def admin_lock_release(*, tenant: Tenant, holder: models.Model | None = None) -> bool:
    """Clear the tenant's lock; with `holder`, only if that row holds it."""
    locks = AdminLock.objects.filter(tenant=tenant)
    if holder is not None:
        locks = locks.filter(
            holder_type=ContentType.objects.get_for_model(holder), holder_id=holder.pk
        )
    deleted, _ = locks.delete()
    return bool(deleted)


@transaction.atomic
def incident_open(*, tenant: Tenant | None, title: str, actor, reason: str) -> ServiceIncident:
    incident = ServiceIncident.objects.create(
        tenant=tenant, title=title, opened_at=clock.now(), opened_by=actor
    )
    audit_event_record(
        tenant=tenant,
        actor=actor,
        action="incident.open",
        target=f"incident:{incident.pk}",
        reason=reason,
        data={"title": title},
    )
    return incident


@transaction.atomic
def incident_resolve(*, incident: ServiceIncident, actor, reason: str) -> ServiceIncident:
    incident.resolved_at = clock.now()
    incident.resolved_by = actor
    incident.save(update_fields=["resolved_at", "resolved_by"])
    audit_event_record(
        tenant=incident.tenant,
        actor=actor,
        action="incident.resolve",
        target=f"incident:{incident.pk}",
        reason=reason,
    )
    return incident
