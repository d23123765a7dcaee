"""Words for the codes the console reads from the database: run states, audit actions and audit
targets. Support engineers read "Order placed" and "Upgrade 2", not "order.place" and
"upgrade_run:2". A code these tables do not know is shown as it is, so a new action still
appears in the timeline (and a test lists every action the code records, so the table grows
with it)."""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from portal.signin import ACCOUNT, ADDRESS, API_TOKENS
from upgrades.models import RunState

# Every action recorded by audit_event_record (grep 'action="' in the apps).
ACTION_LABELS = {
    "admin_lock.release": _("Admin lock released"),
    "api_token.create": _("API token created"),
    "api_token.lockout": _("Address refused for invalid API tokens"),
    "api_token.revoke": _("API token revoked"),
    "api_token.unlock": _("API token lockout lifted"),
    "billing_profile.update": _("Billing details changed"),
    "credit_check.approve": _("Credit check approved"),
    "credit_check.decline": _("Credit check declined"),
    "incident.open": _("Incident opened"),
    "incident.resolve": _("Incident resolved"),
    "invoice.pay": _("Invoice paid"),
    "invoice.pay_declined": _("Invoice payment declined"),
    "license.assign": _("Licenses assigned"),
    "license.replace": _("Licenses replaced"),
    "license.unassign": _("Licenses unassigned"),
    "order.place": _("Order placed"),
    "signin.fail": _("Sign-in failed"),
    "signin.lockout": _("Sign-in locked out"),
    "signin.unlock": _("Sign-in lockout lifted"),
    "subscription.cancel": _("Subscription cancelled"),
    "subscription.create": _("Subscription bought"),
    "subscription.licenses_add": _("Licenses bought"),
    "subscription.licenses_remove": _("Licenses removed"),
    "subscription.reactivate": _("Subscription reactivated"),
    "subscription.renew": _("Subscription renewed"),
    "subscription.renewal_lapse": _("Renewal lapsed"),
    "support_request.answer": _("Support request answered"),
    "support_request.create": _("Support request sent"),
    "tenant.sold_to_update": _("Sold-to details changed"),
    "upgrade.addon_not_restored": _("Add-on not restored"),
    "upgrade.cancel": _("Upgrade cancelled"),
    "upgrade.complete": _("Upgrade completed"),
    "upgrade.fail": _("Upgrade failed"),
    "upgrade.internal_error": _("Upgrade stopped by an internal error"),
    "upgrade.place": _("Upgrade ordered"),
    "upgrade.reschedule": _("Upgrade rescheduled"),
    "upgrade.retry": _("Upgrade started again"),
    "upgrade.start": _("Upgrade started"),
}

# Targets "kind:id" → the words before the id. Those with a page say which (a URL name and
# whether it needs the tenant's short name).
TARGET_KINDS = {
    "upgrade_run": (_("Upgrade %(id)s"), "support_run", False),
    "subscription": (_("Subscription %(id)s"), "subscription_detail", True),
    "invoice": (_("Invoice %(id)s"), "invoice_detail", True),
    "order": (_("Order %(id)s"), "order_detail", True),
    "incident": (_("Incident %(id)s"), "support_incidents", None),
    "support_request": (_("Support request %(id)s"), "support_request", False),
    "tenant": (_("Organisation %(id)s"), "support_tenant", False),
    "api-token": (_("API token %(id)s"), "", None),
    ACCOUNT: (_("Account %(id)s"), "", None),
    ADDRESS: (_("Address %(id)s"), "", None),
    API_TOKENS: (_("Address %(id)s (API tokens)"), "", None),
}
PLAIN_TARGETS = {"billed_to": _("Billed-to details")}


def run_state_label(code: str) -> str:
    if not code:
        return ""
    try:
        return str(RunState(code).label)
    except ValueError:
        return code


def action_label(code: str) -> str:
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code


@dataclass(frozen=True)
class TargetLabel:
    text: str
    url: str = ""


def target_label(target: str, *, tenant_slug: str = "") -> TargetLabel:
    """ "upgrade_run:2" → Upgrade 2, linked to its console page; "subscription:5" →
    Subscription 5, linked to the tenant's page of it (read-only for support)."""
    if target in PLAIN_TARGETS:
        return TargetLabel(str(PLAIN_TARGETS[target]))
    kind, _sep, ident = target.partition(":")
    if kind not in TARGET_KINDS or not ident:
        return TargetLabel(target)
    words, url_name, with_tenant = TARGET_KINDS[kind]
    return TargetLabel(
        str(words) % {"id": ident}, _target_url(url_name, with_tenant, ident, tenant_slug)
    )


def _target_url(url_name: str, with_tenant, ident: str, tenant_slug: str) -> str:
    if not url_name:
        return ""
    if with_tenant is None:
        args = []
    elif with_tenant:
        if not tenant_slug:
            return ""
        args = [tenant_slug, ident]
    else:
        args = [ident]
    try:
        return reverse(url_name, args=args)
    except NoReverseMatch:
        return ""


def audit_labelled(events, *, tenant_slug: str = "") -> list:
    """The audit events with their words: action_label, and target (a TargetLabel)."""
    labelled = list(events)
    for event in labelled:
        event.action_label = action_label(event.action)
        event.target_label = target_label(event.target, tenant_slug=tenant_slug)
    return labelled


def run_events_labelled(events) -> list:
    """A run's state changes with their states' words: from_label and to_label."""
    labelled = list(events)
    for event in labelled:
        event.from_label = run_state_label(event.from_state)
        event.to_label = run_state_label(event.to_state)
    return labelled
