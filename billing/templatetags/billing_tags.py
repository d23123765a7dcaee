"""Small helpers for billing and licensing templates."""

from django import template

register = template.Library()


@register.filter
def can(access, cap: str) -> bool:
    """{% if access|can:"purchase" %}: whether the signed-in admin's role allows the action.
    Actions a role may not take are not shown (the server refuses them anyway)."""
    return bool(access is not None and access.can(cap))
