"""The subscription lifecycle as one transition table. Every status change goes through
subscription_transition, which rejects illegal moves and writes a history row."""

import datetime as dt

from django.utils.translation import gettext as _

from portal import clock
from portal.errors import DomainError

from .models import Status, Subscription, SubscriptionStatusChange

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PROVISIONING: frozenset({Status.ACTIVE, Status.DISABLED}),
    Status.ACTIVE: frozenset({Status.EXPIRED, Status.DISABLED}),
    Status.EXPIRED: frozenset({Status.ACTIVE, Status.DISABLED}),
    Status.DISABLED: frozenset({Status.ACTIVE, Status.DELETED}),
    Status.DELETED: frozenset(),
}

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
    current = subscription.status
    if to not in TRANSITIONS[current]:
        raise DomainError(
            _("A subscription cannot go from %(from)s to %(to)s.")
            % {"from": Status(current).label, "to": Status(to).label},
            code="illegal_transition",
        )
    at = at or clock.now()
    subscription.status = to
    subscription.status_since = at
    subscription.save(update_fields=["status", "status_since"])
    SubscriptionStatusChange.objects.create(
        subscription=subscription,
        from_status=current,
        to_status=to,
        at=at,
        actor=actor if actor is not None and actor.is_authenticated else None,
        reason=reason,
    )
    return subscription
