"""What billing pages show of upgrades, registered by the upgrades app (dependencies point one
way: billing templates load this library; billing code never imports upgrades)."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def upgrade_tab_link(subscription, current=False):
    """The "Upgrade" tab of a subscription's details page."""
    url = reverse("upgrade_tab", args=[subscription.tenant.slug, subscription.pk])
    return format_html(
        '<a href="{}"{}>{}</a>', url, ' class="current"' if current else "", _("Upgrade")
    )
