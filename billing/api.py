"""Subscription endpoints of the JSON API: the tenant's subscriptions with their add-ons."""

from portal.api.framework import endpoint, query_choice
from portal.roles import Cap

from . import selectors
from .models import Subscription


def subscription_json(subscription: Subscription, *, addons=None) -> dict:
    data = {
        "id": subscription.pk,
        "product": {"code": subscription.product.code, "name": subscription.product.name},
        "is_addon": subscription.is_addon,
        "parent_id": subscription.parent_id,
        "status": subscription.status,
        "quantity": subscription.quantity,
        "assigned": getattr(subscription, "assigned", None),
        "billing_frequency": subscription.billing_frequency,
        "channel": subscription.channel,
        "is_trial": subscription.is_trial,
        "is_prepaid": subscription.is_prepaid,
        "offer": subscription.offer,
        "recurring_billing": subscription.recurring_billing,
        "paid_through": subscription.paid_through.isoformat(),
        "status_since": subscription.status_since.isoformat(),
    }
    if addons is not None:
        data["addons"] = [subscription_json(addon) for addon in addons]
    return data


@endpoint(cap=Cap.VIEW)
def subscription_list(request):
    """GET subscriptions?status=active|expired|disabled|all : base subscriptions, add-ons nested."""
    status = query_choice(request, "status", list(selectors.STATUS_FILTERS), default="all")
    rows = selectors.subscription_list(tenant=request.tenant, status=status)
    return {"items": [subscription_json(s, addons=s.addons.all()) for s in rows]}


@endpoint(cap=Cap.VIEW)
def subscription_detail(request, subscription_id: int):
    subscription = selectors.subscription_get(tenant=request.tenant, pk=subscription_id)
    if subscription.is_addon:
        return subscription_json(subscription, addons=[])
    addons = selectors.addon_list(tenant=request.tenant, base=subscription)
    return subscription_json(subscription, addons=addons)
