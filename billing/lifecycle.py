"""The subscription lifecycle as one transition table. Every status change goes through
subscription_transition, which rejects illegal moves and writes a history row."""

import datetime as dt

from django.utils.translation import gettext_lazy as _

from portal import clock
from portal.actors import recorded_actor
from portal.transitions import TransitionTable, transition_apply

from .models import Status, Subscription, SubscriptionStatusChange

TRANSITIONS = TransitionTable(
    choices=Status,
    allowed={
        Status.PROVISIONING: frozenset({Status.ACTIVE, Status.DISABLED}),
        Status.ACTIVE: frozenset({Status.EXPIRED, Status.DISABLED}),
        Status.EXPIRED: frozenset({Status.ACTIVE, Status.DISABLED}),
        Status.DISABLED: frozenset({Status.ACTIVE, Status.DELETED}),
        Status.DELETED: frozenset(),
    },
    illegal_message=_("A subscription cannot go from %(from)s to %(to)s."),
)

# How long a subscription stays in a state before the periodic task moves it on.
EXPIRED_DAYS = 30
DISABLED_DAYS = 90
NEXT_STATE_AFTER = {
    Status.EXPIRED: (dt.timedelta(days=EXPIRED_DAYS), Status.DISABLED),
    Status.DISABLED: (dt.timedelta(days=DISABLED_DAYS), Status.DELETED),
}

# What each state allows, shown on the subscription's Overview.
USERS_HAVE_ACCESS = {Status.ACTIVE, Status.EXPIRED}
CAN_ASSIGN = {Status.ACTIVE}
CAN_REACTIVATE = {Status.EXPIRED, Status.DISABLED}


def subscription_transition(
    *,
    subscription: Subscription,
    to: str,
    actor=None,
    reason: str = "",
    at: dt.datetime | None = None,
) -> Subscription:
    """Caller owns the transaction (and should hold the row lock)."""
    at = at or clock.now()
    transition_apply(
        table=TRANSITIONS,
        instance=subscription,
        field="status",
        to=to,
        also_set={"status_since": at},
        record=lambda previous: SubscriptionStatusChange.objects.create(
            subscription=subscription,
            from_status=previous,
            to_status=to,
            at=at,
            actor=recorded_actor(actor),
            reason=reason,
        ),
    )
    return subscription


def subscription_activate_if_ready(*, subscription: Subscription, now: dt.datetime | None = None):
    """Provisioning -> Active once the simulated set-up time has passed. Called by the periodic
    task and by writes that need an Active subscription (never by a page read). Caller owns the
    transaction and holds the row lock. True when it was activated."""
    now = now or clock.now()
    ready_at = subscription.ready_at
    if subscription.status != Status.PROVISIONING or ready_at is None or ready_at > now:
        return False
    subscription_transition(
        subscription=subscription, to=Status.ACTIVE, reason="set-up finished", at=now
    )
    return True


def subscription_restore(
    *, subscription: Subscription, status: str, status_since: dt.datetime, reason: str
) -> Subscription:
    """Put a subscription back in the status it had before a step that is being undone (a
    failed upgrade gives back the add-ons it removed). Not a lifecycle move, so not bound by
    the transition table; it writes its history row like one. Caller holds the row lock."""
    previous = subscription.status
    if previous == status:
        return subscription
    subscription.status = status
    subscription.status_since = status_since
    subscription.save(update_fields=["status", "status_since"])
    SubscriptionStatusChange.objects.create(
        subscription=subscription,
        from_status=previous,
        to_status=status,
        at=clock.now(),
        reason=reason,
    )
    return subscription
