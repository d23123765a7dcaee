"""What an admin may do with a subscription right now, as pure functions from the subscription
(and a few counts) to the list of blockers, each with a reason code and a message fit for an
admin. The Overview shows them; the services enforce them. An empty list means allowed."""

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .lifecycle import CAN_ASSIGN, CAN_REACTIVATE, NEXT_STATE_AFTER, USERS_HAVE_ACCESS
from .models import Channel, Status, Subscription
from .renewals import ends_at_paid_through

# Above this many licenses a subscription cannot be cancelled online (DESIGN 2).
ONLINE_CANCEL_MAX_LICENSES = 25
# The most licenses one subscription can hold: far above any real tenant, and it keeps every
# count and price well inside the database's integer and decimal columns.
MAX_LICENSES = 1_000_000
CHANGEABLE = {Status.ACTIVE}
CANCELLABLE = {Status.PROVISIONING, Status.ACTIVE, Status.EXPIRED}


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str


def _status_label(subscription: Subscription) -> str:
    return str(Status(subscription.status).label).lower()


def _channel_blocker(subscription: Subscription) -> Blocker | None:
    if subscription.channel == Channel.PARTNER:
        return Blocker(
            "partner",
            _("Bought through a partner: ask your partner to change or cancel it."),
        )
    if subscription.channel == Channel.VOLUME:
        return Blocker(
            "volume_licensing",
            _(
                "Bought through volume licensing: ask your account representative to change "
                "or cancel it."
            ),
        )
    return None


def add_licenses_blockers(subscription: Subscription) -> list[Blocker]:
    blockers = []
    if subscription.status not in CHANGEABLE:
        blockers.append(
            Blocker(
                "not_active",
                _("Licenses can be added only to an active subscription; this one is %(s)s.")
                % {"s": _status_label(subscription)},
            )
        )
    if not subscription.product.on_sale:
        blockers.append(
            Blocker(
                "end_of_sale",
                _(
                    "%(product)s is no longer sold: no licenses can be added. Buy a current "
                    "plan and move your users to it."
                )
                % {"product": subscription.product.name},
            )
        )
    if subscription.is_trial:
        blockers.append(
            Blocker("trial", _("A trial has a fixed number of licenses. Buy the product instead."))
        )
    channel = _channel_blocker(subscription)
    if channel:
        blockers.append(channel)
    cap = subscription.product.seat_cap or MAX_LICENSES
    if subscription.quantity >= cap:
        blockers.append(
            Blocker(
                "seat_cap",
                _("%(product)s is limited to %(cap)d licenses.")
                % {"product": subscription.product.name, "cap": cap},
            )
        )
    return blockers


def remove_licenses_blockers(
    subscription: Subscription, *, assigned: int, credit_check_pending: bool
) -> list[Blocker]:
    blockers = []
    if subscription.status not in CHANGEABLE:
        blockers.append(
            Blocker(
                "not_active",
                _("Licenses can be removed only from an active subscription; this one is %(s)s.")
                % {"s": _status_label(subscription)},
            )
        )
    if subscription.is_prepaid:
        blockers.append(
            Blocker(
                "prepaid",
                _("Prepaid subscriptions keep their licenses until the end of the prepaid term."),
            )
        )
    if subscription.is_trial:
        blockers.append(Blocker("trial", _("A trial has a fixed number of licenses.")))
    channel = _channel_blocker(subscription)
    if channel:
        blockers.append(channel)
    # End of sale (E4) does not stop a reduction: unused licenses can be removed before or
    # after an upgrade (never as part of one, and never below the licenses in use).
    if credit_check_pending:
        blockers.append(
            Blocker(
                "credit_check_pending",
                _(
                    "A credit check is pending for this organisation. Try again once it has "
                    "been decided."
                ),
            )
        )
    if subscription.quantity <= max(assigned, 1):
        blockers.append(
            Blocker(
                "all_assigned",
                _(
                    "Every license is assigned (%(assigned)d of %(quantity)d). Unassign users "
                    "first; the count can never go below the licenses in use."
                )
                % {"assigned": assigned, "quantity": subscription.quantity},
            )
        )
    return blockers


def cancel_blockers(subscription: Subscription) -> list[Blocker]:
    blockers = []
    if subscription.status not in CANCELLABLE:
        blockers.append(
            Blocker(
                "not_cancellable",
                _("A %(s)s subscription cannot be cancelled.") % {"s": _status_label(subscription)},
            )
        )
    channel = _channel_blocker(subscription)
    if channel:
        blockers.append(channel)
    if subscription.quantity > ONLINE_CANCEL_MAX_LICENSES:
        blockers.append(
            Blocker(
                "too_many_licenses",
                _(
                    "Subscriptions with more than %(max)d licenses cannot be cancelled online "
                    "(this one has %(quantity)d). Remove licenses until %(max)d or fewer are "
                    "left, then cancel; or contact support."
                )
                % {"max": ONLINE_CANCEL_MAX_LICENSES, "quantity": subscription.quantity},
            )
        )
    return blockers


def reactivate_blockers(
    subscription: Subscription, *, upgraded_to: Subscription | None = None
) -> list[Blocker]:
    """Why the subscription cannot be reactivated. `upgraded_to` is the subscription an upgrade
    replaced it with (selectors.subscription_upgraded_to): its users, add-ons and unused time
    went there, so bringing it back would charge a plan nobody uses."""
    if upgraded_to is not None:
        return [
            Blocker(
                "upgraded",
                _("It was upgraded to %(product)s; use that subscription instead.")
                % {"product": upgraded_to.product.name},
            )
        ]
    if subscription.status not in CAN_REACTIVATE:
        return [
            Blocker(
                "not_reactivatable",
                _("Only expired or disabled subscriptions can be reactivated; this one is %(s)s.")
                % {"s": _status_label(subscription)},
            )
        ]
    if subscription.parent_id and subscription.parent.status != Status.ACTIVE:
        return [
            Blocker(
                "base_not_active",
                _("Reactivate %(base)s first: an add-on works only with an active subscription.")
                % {"base": subscription.parent.product.name},
            )
        ]
    return []


def assign_blockers(subscription: Subscription) -> list[Blocker]:
    if subscription.status in CAN_ASSIGN:
        return []
    return [
        Blocker(
            "not_active",
            _("Licenses cannot be assigned while the subscription is %(s)s.")
            % {"s": _status_label(subscription)},
        )
    ]


def users_have_access(subscription: Subscription) -> bool:
    return subscription.status in USERS_HAVE_ACCESS


@dataclass(frozen=True)
class KeyDate:
    label: str
    date: dt.date | dt.datetime


def key_date(subscription: Subscription) -> KeyDate | None:
    """The one date Your products shows: renewal, expiry, or the next lifecycle step."""
    status = subscription.status
    if status == Status.PROVISIONING:
        return KeyDate(_("Ready about"), subscription.ready_at) if subscription.ready_at else None
    if status == Status.ACTIVE:
        # (An add-on also needs an active base; shown without reading the base, which a list of
        # products would read once per row.)
        if ends_at_paid_through(subscription, None):
            return KeyDate(_("Expires on"), subscription.paid_through)
        return KeyDate(_("Renews on"), subscription.paid_through)
    step = NEXT_STATE_AFTER.get(status)
    if step:
        delay, to = step
        label = _("Disabled on") if to == Status.DISABLED else _("Deleted on")
        return KeyDate(label, (subscription.status_since + delay).date())
    return None
