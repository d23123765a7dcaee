"""Writes of the support console. Every action needs a written reason and leaves an audit
event; the upgrade actions are the upgrades app's own services (which audit themselves)."""

from axes.utils import reset as axes_reset
from django.db import transaction
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from portal import clock
from portal.api.selectors import api_token_lockout_list
from portal.api.services import api_token_lockout_lift
from portal.errors import DomainError
from portal.models import AdminLock, Notification, ServiceIncident, Tenant
from portal.roles import is_support
from portal.services import (
    audit_event_record,
    incident_open,
    incident_resolve,
    notification_create,
)
from portal.signin import (
    ACCOUNT,
    ADDRESS,
    API_TOKENS,
    SignInLockout,
    address_normalized,
    signin_lockouts_for,
)
from portal.texts import literal, stored, text
from upgrades import services as upgrade_services
from upgrades.models import TERMINAL_STATES, SupportRequest, UpgradeRun

# How much of an answer a notification quotes (the whole is on the requests page).
NOTIFICATION_MAX_LENGTH = 500


def _support_only(actor) -> None:
    if not is_support(actor):
        raise DomainError(_("Only support engineers can do this."), code="forbidden")


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Write a reason: it is kept in the audit log."), code="reason_required")
    return reason


def support_credit_check_decide(*, run: UpgradeRun, approve: bool, actor, reason: str):
    _support_only(actor)
    return upgrade_services.upgrade_credit_check_decide(
        run=run, approve=approve, actor=actor, reason=_reason(reason)
    )


def support_run_retry(*, run: UpgradeRun, actor, reason: str):
    _support_only(actor)
    return upgrade_services.upgrade_retry(run=run, actor=actor, reason=_reason(reason))


def support_lock_release(*, tenant: Tenant, actor, reason: str) -> bool:
    """Release a stuck admin lock: one whose upgrade run has ended (or no longer exists). A
    run that is still going holds its lock for a reason, so the lock stays: let the run finish,
    or let it fail and retry it."""
    _support_only(actor)
    reason = _reason(reason)
    with transaction.atomic():
        lock = AdminLock.objects.select_for_update(of=("self",)).filter(tenant=tenant).first()
        if lock is None:
            raise DomainError(_("This organisation is not locked."), code="not_locked")
        run = lock.holder  # None when the holding row no longer exists
        if isinstance(run, UpgradeRun) and run.state not in TERMINAL_STATES:
            raise DomainError(
                _(
                    "Upgrade %(run)s still holds this lock and is %(state)s. A lock is stuck "
                    "only once its upgrade has ended."
                )
                % {"run": run.pk, "state": run.get_state_display().lower()},
                code="run_active",
            )
        lock.delete()
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="admin_lock.release",
            target=f"tenant:{tenant.slug}",
            reason=reason,
            data={
                "holder": lock.holder_ref,
                "since": lock.since.isoformat(),
                "lock_reason": stored(lock.reason).as_data(),
            },
        )
    return True


def support_incident_open(
    *, tenant: Tenant | None, title: str, actor, reason: str
) -> ServiceIncident:
    _support_only(actor)
    title = (title or "").strip()
    if not title:
        raise DomainError(_("Give the incident a title."), code="title_required")
    return incident_open(tenant=tenant, title=title, actor=actor, reason=_reason(reason))


def support_incident_resolve(*, incident: ServiceIncident, actor, reason: str) -> ServiceIncident:
    _support_only(actor)
    reason = _reason(reason)
    if incident.resolved_at is not None:
        raise DomainError(_("This incident is already resolved."), code="resolved")
    return incident_resolve(incident=incident, actor=actor, reason=reason)


def _not_locked_out() -> DomainError:
    return DomainError(
        _("There is no such sign-in lockout now: it has ended or was lifted."), code="not_locked"
    )


def support_signin_unlock(*, kind: str, subject: str, actor, reason: str) -> SignInLockout:
    """Lift a sign-in lockout now, as axes resets one: the account's failures are forgotten
    from every address, or the address's on every account (so an account may also come out
    of an address's count, and the other way round). Only a lockout that holds now can be
    lifted: one that has ended, or was lifted by someone else meanwhile, is refused and
    nothing is written. Returns the lockout as it was."""
    _support_only(actor)
    reason = _reason(reason)
    if kind in (ADDRESS, API_TOKENS):
        subject = address_normalized(subject) or ""
    if kind not in (ACCOUNT, ADDRESS, API_TOKENS) or not subject:
        raise _not_locked_out()
    with transaction.atomic():
        if kind == API_TOKENS:
            lockouts = api_token_lockout_list(address=subject)
        else:
            lockouts = signin_lockouts_for(
                username=subject if kind == ACCOUNT else None,
                address=subject if kind == ADDRESS else None,
            )
        lockout = next((x for x in lockouts if x.kind == kind), None)
        if lockout is None:
            raise _not_locked_out()
        if kind == API_TOKENS:
            removed = api_token_lockout_lift(address=subject)
        elif kind == ACCOUNT:
            removed = axes_reset(username=subject)
        else:
            removed = axes_reset(ip=subject)
        if not removed:  # a concurrent unlock got there first (its delete made this one wait)
            raise _not_locked_out()
        audit_event_record(
            tenant=None,
            actor=actor,
            action="api_token.unlock" if kind == API_TOKENS else "signin.unlock",
            target=lockout.target,
            reason=reason,
            data={
                "kind": lockout.kind,
                "subject": lockout.subject,
                "failures": lockout.failures,
                "since": lockout.since.isoformat(),
                "until": lockout.until.isoformat(),
            },
        )
    return lockout


def support_request_answer(*, support_request: SupportRequest, actor, answer: str):
    """Answer an admin's request: it becomes answered (once: a second answer is refused), the
    answer is audited and the tenant's admins get it as a notification that links to their
    requests."""
    _support_only(actor)
    answer = (answer or "").strip()
    if not answer:
        raise DomainError(_("Write the answer the admins will read."), code="answer_required")
    with transaction.atomic():
        locked = SupportRequest.objects.select_for_update(of=("self",)).get(pk=support_request.pk)
        if locked.state != SupportRequest.State.OPEN:
            raise DomainError(_("This request is already answered."), code="answered")
        locked.state = SupportRequest.State.ANSWERED
        locked.answer = answer
        locked.answered_by = actor
        locked.answered_at = clock.now()
        locked.save(update_fields=["state", "answer", "answered_by", "answered_at"])
        tenant = Tenant.objects.get(pk=locked.tenant_id)
        audit_event_record(
            tenant=tenant,
            actor=actor,
            action="support_request.answer",
            target=f"support_request:{locked.pk}",
            reason=answer,
            data={"run": locked.run_id, "subscription": locked.subscription_id},
        )
        link = reverse("support_request_create", args=[tenant.slug]) + f"#request-{locked.pk}"
        # In the reader's language (the answer itself as the engineer wrote it).
        message = text(
            "support.notify.answered",
            # An id, not a count: written as it is, never with thousands separators.
            number=str(locked.pk),
            answer=literal(Truncator(answer).chars(NOTIFICATION_MAX_LENGTH)),
        )
        notification_create(
            tenant=tenant,
            level=Notification.Level.INFO,
            message=message,
            link=link,
        )
    return locked
