"""The upgrade's stored texts: notifications, failure reasons, timeline reasons and invoice
lines, kept as message keys and written in the reader's language when shown (portal.texts).
Registered at start-up by UpgradesConfig.ready."""

from django.utils.translation import gettext_noop

from portal.texts import messages_register, ngettext_noop

messages_register(
    {
        # Notifications.
        "upgrades.notify.credit_check": gettext_noop(
            "Your upgrade to %(target)s is waiting for a credit check (decided by %(deadline)s "
            "at the latest)."
        ),
        "upgrades.notify.completed": ngettext_noop(
            "Your upgrade to %(target)s is complete: %(count)s user moved.",
            "Your upgrade to %(target)s is complete: %(count)s users moved.",
        ),
        "upgrades.notify.failed": gettext_noop(
            "Your upgrade to %(target)s failed: %(reason)s %(money)s Your users stay on "
            "%(source)s, as before."
        ),
        "upgrades.notify.declined": gettext_noop(
            "The credit check for your upgrade to %(target)s was declined. Nothing was charged; "
            "your users stay on %(source)s."
        ),
        "upgrades.notify.cancelled": gettext_noop(
            "The upgrade to %(target)s scheduled for %(when)s was cancelled. Nothing was "
            "charged; your users stay on %(source)s."
        ),
        "upgrades.notify.rescheduled": gettext_noop(
            "The upgrade to %(target)s now starts at %(when)s."
        ),
        # What a failure did with the money.
        "upgrades.money.nothing_charged": gettext_noop("Nothing was charged."),
        "upgrades.money.credited_back": gettext_noop("Its charge was credited back in full."),
        "upgrades.money.credit_taken_back": gettext_noop(
            "The credit it added to your account was taken back."
        ),
        "upgrades.money.credit_owed": gettext_noop(
            "The credit it added to your account was taken back; what had already been used of "
            "it is owed: see the unpaid invoice under Bills and payments."
        ),
        # Failure reasons.
        "upgrades.failure.internal": gettext_noop(
            "An internal error stopped the upgrade; support has been notified."
        ),
        "upgrades.failure.unresponsive": ngettext_noop(
            "The upgrade stopped responding %(count)s time; support has been notified.",
            "The upgrade stopped responding %(count)s times; support has been notified.",
        ),
        "upgrades.failure.credit_declined": gettext_noop("The credit check was declined."),
        "upgrades.failure.new_inactive": gettext_noop(
            "The new subscription is %(status)s instead of active."
        ),
        "upgrades.failure.quantity_short": gettext_noop(
            "%(holders)s users now hold %(source)s licenses, more than the %(quantity)s "
            "licenses this order buys. Start a new upgrade."
        ),
        "upgrades.failure.seat_cap": gettext_noop("%(target)s is limited to %(cap)s licenses."),
        "upgrades.failure.addon_not_carried": gettext_noop(
            "%(target)s cannot carry the add-on %(addon)s."
        ),
        "upgrades.failure.order_outdated": gettext_noop(
            "%(source)s changed since this upgrade was scheduled (its licenses, add-ons, paid "
            "period or status), so its prices no longer apply."
        ),
        # Reasons in timelines and histories.
        "upgrades.reason.credit_check_requested": gettext_noop("Credit check requested"),
        "upgrades.reason.window_started": gettext_noop("The maintenance window started"),
        "upgrades.reason.in_progress": gettext_noop("Upgrade in progress"),
        "upgrades.reason.addon_included": gettext_noop("Included in %(target)s (upgrade %(run)s)"),
        "upgrades.reason.upgraded": gettext_noop("Upgraded to %(target)s (upgrade %(run)s)"),
        "upgrades.reason.addon_changed": gettext_noop("Changed after the upgrade removed it"),
        "upgrades.reason.failed": gettext_noop("the upgrade failed"),
        # Invoice lines of an upgrade order.
        "upgrades.line.plan_monthly": gettext_noop("%(plan)s, monthly"),
        "upgrades.line.plan_yearly": gettext_noop("%(plan)s, yearly, 12 months"),
        "upgrades.line.credit_source": gettext_noop(
            "Credit: unused time of %(plan)s until %(date)s"
        ),
        "upgrades.line.credit_addon": gettext_noop(
            "Credit: unused time of %(addon)s (included in %(plan)s)"
        ),
    }
)
