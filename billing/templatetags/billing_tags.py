"""Small helpers for billing and licensing templates."""

from django import template

from ..payments import settlement_preview

register = template.Library()


@register.filter
def can(access, cap: str) -> bool:
    """{% if access|can:"purchase" %}: whether the signed-in admin's role allows the action.
    Actions a role may not take are not shown (the server refuses them anyway)."""
    return bool(access is not None and access.can(cap))


@register.inclusion_tag("billing/_settlement.html", takes_context=True)
def settlement(context, total, currency):
    """Under an order's total: the credit that goes to the account when credits exceed charges,
    or what the credit balance pays first, and what is left to pay."""
    tenant = context.get("current_tenant")
    preview = settlement_preview(tenant=tenant, total=total) if tenant is not None else None
    return {"preview": preview, "currency": currency}
