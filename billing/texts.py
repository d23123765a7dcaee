"""Billing's stored texts: invoice lines, notifications and reasons, kept as message keys and
written in the reader's language when shown (portal.texts). Registered at start-up by
BillingConfig.ready."""

from django.utils.translation import gettext_noop

from portal.texts import messages_register, ngettext_noop

messages_register(
    {
        # Invoice lines.
        "billing.line.purchase": ngettext_noop(
            "%(product)s, %(quantity)s, %(count)s month",
            "%(product)s, %(quantity)s, %(count)s months",
        ),
        "billing.count.licenses": ngettext_noop("%(count)s license", "%(count)s licenses"),
        "billing.count.units": gettext_noop("%(count)s %(unit)s"),
        "billing.line.renewed": gettext_noop("%(product)s renewed through %(date)s"),
        "billing.line.reactivated": gettext_noop("%(product)s reactivated, through %(date)s"),
        "billing.line.licenses_added": ngettext_noop(
            "%(product)s: %(count)s license added, through %(date)s",
            "%(product)s: %(count)s licenses added, through %(date)s",
        ),
        "billing.line.licenses_removed": ngettext_noop(
            "%(product)s: %(count)s license removed, unused time through %(date)s",
            "%(product)s: %(count)s licenses removed, unused time through %(date)s",
        ),
        "billing.line.cancelled": gettext_noop(
            "%(product)s cancelled: unused time through %(date)s"
        ),
        "billing.line.reversed": gettext_noop("Reversed: %(line)s (%(reason)s)"),
        # Notifications.
        "billing.notify.renewal_declined": gettext_noop(
            "The renewal of %(products)s could not be charged: the card on file was declined. "
            "Pay invoice %(number)s (%(amount)s) by %(deadline)s, or the subscription expires."
        ),
        "billing.notify.renewed_due": gettext_noop(
            "%(products)s renewed through %(until)s. Invoice %(number)s (%(amount)s) is due by "
            "%(due)s."
        ),
        "billing.notify.renewed_paid": gettext_noop(
            "%(products)s renewed through %(until)s. Invoice %(number)s (%(amount)s) is paid."
        ),
        "billing.notify.renewal_reminder": gettext_noop(
            "Reminder: invoice %(number)s (%(amount)s) for a renewal is unpaid. Pay it by "
            "%(deadline)s, or the subscription expires."
        ),
        "billing.notify.renewal_expired": ngettext_noop(
            "%(products)s expired: renewal invoice %(number)s was not paid in time and has been "
            "cancelled. Users keep access for %(count)s day; reactivate the subscription to "
            "keep it.",
            "%(products)s expired: renewal invoice %(number)s was not paid in time and has been "
            "cancelled. Users keep access for %(count)s days; reactivate the subscription to "
            "keep it.",
        ),
        "billing.notify.setting_up": gettext_noop(
            "%(product)s is being set up. It will be ready in a few moments."
        ),
        "billing.notify.order_declined": gettext_noop(
            "Your order was not placed: the credit check was declined."
        ),
        "billing.notify.order_failed": gettext_noop(
            "Your order could not be completed: %(reason)s"
        ),
        # Reasons and failures.
        "billing.reason.credit_check_default": gettext_noop(
            "No decision by the deadline: the default applies."
        ),
        "billing.reason.renewal_unpaid": gettext_noop("renewal not paid within the grace period"),
        "billing.error.card_declined": gettext_noop(
            "The card on file was declined. Update the payment method and try again."
        ),
        "billing.error.no_card": gettext_noop(
            "There is no card on file. Add a payment method first."
        ),
    }
)
