"""What billing pages show of upgrades, registered by the upgrades app (dependencies point one
way: billing templates load this library; billing code never imports upgrades)."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from portal.templatetags.portal_format import badge
from upgrades.models import RunState
from upgrades.selectors import upgrade_run_for_subscription

register = template.Library()


@register.simple_tag
def upgrade_tab_link(subscription, current=False):
    """The "Upgrade" tab of a subscription's details page; the current tab is marked for
    assistive technology and styled by it (.tabs a[aria-current=page])."""
    url = reverse("upgrade_tab", args=[subscription.tenant.slug, subscription.pk])
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, _("Upgrade"))
    return format_html('<a href="{}">{}</a>', url, _("Upgrade"))


@register.simple_tag
def upgrade_status_link(subscription):
    """A link to the status of the upgrade that moved this subscription's users, from the old
    subscription or to the new one; empty when it was never part of an upgrade. One query."""
    run = upgrade_run_for_subscription(subscription=subscription)
    if run is None:
        return ""
    url = reverse("upgrade_status", args=[subscription.tenant.slug, run.pk])
    return format_html(
        '<a class="upgrade-status-link" href="{}">{}</a> {}',
        url,
        _("Upgrade status"),
        badge(run.state, RunState(run.state).label),
    )
