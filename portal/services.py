from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from . import clock
from .actors import recorded_actor
from .models import AdminLock, AuditEvent, Notification, ServiceIncident, Tenant


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
    return Notification.objects.create(
        tenant=tenant, message=message, level=level, link=link, created_at=clock.now()
    )


@transaction.atomic
def notification_mark_all_read(*, tenant: Tenant) -> int:
    return Notification.objects.filter(tenant=tenant, read_at__isnull=True).update(
        read_at=clock.now()
    )


def admin_lock_acquire(
    *, tenant: Tenant, holder: models.Model, reason: str, status_url: str = ""
) -> AdminLock:
    """Set the tenant's blocking state, held by `holder` (a saved row of any model). The caller
    owns the transaction; a tenant has at most one lock (the one-to-one key is the guard)."""
    return AdminLock.objects.create(
        tenant=tenant, holder=holder, reason=reason, status_url=status_url, since=clock.now()
    )


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
