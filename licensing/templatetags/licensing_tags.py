"""What billing pages show of licensing (billing templates load this library; billing code never
imports licensing)."""

from django import template

from ..selectors import license_holder_list

register = template.Library()


@register.inclusion_tag("licensing/_holders.html", takes_context=True)
def license_holders(context, subscription, limit=50):
    """The first users, by name, holding a license of the subscription."""
    tenant = context["request"].tenant
    return {
        "holders": license_holder_list(tenant=tenant, subscription=subscription, limit=limit),
        "subscription": subscription,
        "tenant": tenant,
        "limit": limit,
    }
