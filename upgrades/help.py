"""Contact support: an admin's request for help, tied to the subscription or upgrade run it is
about, which support engineers read and answer in the console.

Sending one is exempt from the admin lock by design: the admins locked out by an upgrade are
the ones who most need to reach support. Any admin role of the tenant may send one (a reader
too: asking is no change to the tenant); support engineers, who are no admins of it, may not.
A tenant has at most MAX_OPEN_REQUESTS unanswered requests at a time, counted under the
tenant's row lock so that concurrent requests cannot pass the limit together."""

from django.db import models, transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import Subscription
from billing.selectors import subscription_get
from portal import clock
from portal.errors import DomainError
from portal.models import Tenant
from portal.selectors import TenantAccess
from portal.services import audit_event_record

from .models import RunState, SupportRequest, UpgradeRun

MAX_OPEN_REQUESTS = 10
MESSAGE_MAX_LENGTH = 4000


class SupportTopic(models.TextChoices):
    UPGRADE_FAILED = "upgrade_failed", gettext_lazy("The upgrade failed")
    SCHEDULED_UPGRADE = "scheduled_upgrade", gettext_lazy("A question about the scheduled upgrade")
    UPGRADE = "upgrade", gettext_lazy("A question about an upgrade")
    BILLING = "billing", gettext_lazy("Billing")
    OTHER = "other", gettext_lazy("Something else")


def support_topic_label(topic: str) -> str:
    return str(dict(SupportTopic.choices).get(topic, topic))


def support_topic_default(*, run: UpgradeRun | None) -> str:
    """The topic a request about this run most likely has."""
    if run is None:
        return SupportTopic.UPGRADE
    if run.state in (RunState.FAILED, RunState.DECLINED):
        return SupportTopic.UPGRADE_FAILED
    if run.state == RunState.SCHEDULED:
        return SupportTopic.SCHEDULED_UPGRADE
    return SupportTopic.UPGRADE


# --- Selectors -----------------------------------------------------------------------------


def support_request_subject_get(
    *, tenant: Tenant, subscription_id: int | None = None, run_id: int | None = None
) -> tuple[Subscription | None, UpgradeRun | None]:
    """What a request is about: the tenant's subscription and run (404 for anyone else's).
    A run names its source subscription when no subscription is given."""
    run = None
    if run_id is not None:
        run = get_object_or_404(
            UpgradeRun.objects.select_related("source__product", "target"),
            tenant=tenant,
            pk=run_id,
        )
    subscription = None
    if subscription_id is not None:
        subscription = subscription_get(tenant=tenant, pk=subscription_id)
    elif run is not None:
        subscription = run.source
    return subscription, run


def support_request_get(*, tenant: Tenant, pk: int) -> SupportRequest:
    return get_object_or_404(
        SupportRequest.objects.select_related("subscription__product", "run__target"),
        tenant=tenant,
        pk=pk,
    )


def support_request_list(*, tenant: Tenant, limit: int = 20):
    """The tenant's latest requests, newest first, with support's answers."""
    return SupportRequest.objects.filter(tenant=tenant).select_related(
        "subscription__product", "run__target", "created_by"
    )[:limit]


# --- Services ------------------------------------------------------------------------------


def support_request_create(
    *,
    access: TenantAccess,
    topic: str,
    message: str,
    subscription: Subscription | None = None,
    run: UpgradeRun | None = None,
) -> SupportRequest:
    """Send a request to support. Exempt from the admin lock (see the module's docstring)."""
    tenant = access.tenant
    if access.role is None:
        raise DomainError(
            _("Only the organisation's own admins can send a request to support."),
            code="forbidden",
        )
    if (subscription is not None and subscription.tenant_id != tenant.pk) or (
        run is not None and run.tenant_id != tenant.pk
    ):
        raise Http404
    if topic not in SupportTopic.values:
        raise DomainError(_("Choose what the request is about."), code="topic_invalid")
    message = (message or "").strip()
    if not message:
        raise DomainError(_("Write what support should know."), code="message_required")
    if len(message) > MESSAGE_MAX_LENGTH:
        raise DomainError(
            _("Keep the message under %(max)s characters.") % {"max": MESSAGE_MAX_LENGTH},
            code="message_too_long",
        )
    with transaction.atomic():
        # The tenant's row serializes the count with concurrent requests of the same tenant.
        Tenant.objects.select_for_update(no_key=True, of=("self",)).filter(pk=tenant.pk).exists()
        open_requests = SupportRequest.objects.filter(
            tenant=tenant, state=SupportRequest.State.OPEN
        ).count()
        if open_requests >= MAX_OPEN_REQUESTS:
            raise DomainError(
                _(
                    "Your organisation already has %(count)s requests waiting for an answer. "
                    "Support answers them first; you can send a new one once one is answered."
                )
                % {"count": open_requests},
                code="too_many_requests",
            )
        request = SupportRequest.objects.create(
            tenant=tenant,
            subscription=subscription,
            run=run,
            topic=topic,
            message=message,
            created_by=access.user,
            created_at=clock.now(),
        )
        audit_event_record(
            tenant=tenant,
            actor=access.user,
            action="support_request.create",
            target=f"support_request:{request.pk}",
            data={
                "topic": topic,
                "subscription": subscription.pk if subscription else None,
                "run": run.pk if run else None,
            },
        )
    return request
