"""Subscription endpoints of the JSON API: the tenant's subscriptions with their add-ons.
Mounted under /api/v1/tenants/<tenant_slug>/ by config/api.py."""

from typing import Annotated, Literal

from ninja import Field, Query, Router, Schema

from portal.api.auth import TokenAuth
from portal.api.errors import api_responses
from portal.api.fields import DateText, DateTimeText, PathId, TenantSlug
from portal.roles import Cap

from . import models, selectors

router = Router(tags=["subscriptions"])

StatusFilter = Literal[tuple(selectors.STATUS_FILTERS)]


class Product(Schema):
    code: str
    name: str


class Subscription(Schema):
    id: int = Field(ge=1)
    product: Product
    is_addon: bool
    parent_id: int | None
    status: Literal[tuple(models.Status.values)]
    quantity: int = Field(ge=0, description="Licenses bought.")
    assigned: int | None = Field(description="Licenses assigned.")
    billing_frequency: Literal[tuple(models.BillingFrequency.values)]
    channel: Literal[tuple(models.Channel.values)]
    is_trial: bool
    is_prepaid: bool
    offer: Literal[tuple(models.Offer.values)]
    recurring_billing: bool
    paid_through: DateText
    status_since: DateTimeText
    # Only on a base subscription (and then always, possibly empty); never on an add-on.
    addons: list["Subscription"] = Field(
        default_factory=list, description="Add-ons attached to a base subscription."
    )


class SubscriptionList(Schema):
    items: list[Subscription]


def subscription_json(subscription: models.Subscription, *, addons=None) -> dict:
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


@router.get(
    "/subscriptions",
    auth=TokenAuth(Cap.VIEW),
    url_name="subscriptions",
    summary="List subscriptions, each with its add-ons",
    exclude_unset=True,
    **api_responses({200: SubscriptionList}, 400, 403, 423),
)
def subscription_list(
    request,
    tenant_slug: TenantSlug,
    status: Annotated[
        StatusFilter,
        Query(
            "all",
            description="Which subscriptions: active (and provisioning), expired, disabled or "
            "all but deleted (the default).",
        ),
    ],
):
    """The tenant's base subscriptions, add-ons nested under their base."""
    rows = selectors.subscription_list(tenant=request.tenant, status=status)
    return {"items": [subscription_json(s, addons=s.addons.all()) for s in rows]}


@router.get(
    "/subscriptions/{api_id:subscription_id}",
    auth=TokenAuth(Cap.VIEW),
    url_name="subscription",
    summary="One subscription, with its add-ons when it is a base subscription",
    exclude_unset=True,
    **api_responses({200: Subscription}, 403, 423),
)
def subscription_detail(request, tenant_slug: TenantSlug, subscription_id: PathId):
    subscription = selectors.subscription_get(tenant=request.tenant, pk=subscription_id)
    if subscription.is_addon:
        return subscription_json(subscription, addons=[])
    addons = selectors.addon_list(tenant=request.tenant, base=subscription)
    return subscription_json(subscription, addons=addons)
