"""The manual route from E4 to a new plan, walked through the pages' own URLs as a signed-in
admin (DESIGN 1 and 2): buy Microsoft 365 E5, wait until it is active, move every E4 user in
steps of at most 20, reduce E4, cancel it."""

import datetime as dt

import pytest
from django.urls import reverse

from billing.models import Order, Status, Subscription
from billing.services import subscriptions_advance
from licensing.models import DirectoryUser, LicenseAssignment
from portal.clock import clock_advance

pytestmark = pytest.mark.django_db


def _e4(tenant):
    return Subscription.objects.get(tenant=tenant, product__code="O365_E4")


def _buy_e5(client, tenant, quantity):
    slug = tenant.slug
    response = client.post(
        reverse("purchase_start", args=[slug]),
        {"product": "M365_E5", "quantity": quantity, "billing_frequency": "monthly"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("purchase_cart", args=[slug])
    assert client.get(response["Location"]).status_code == 200
    checkout = client.get(reverse("purchase_checkout", args=[slug]))
    assert checkout.status_code == 200
    for heading in ("Sold to", "Billed to", "Items in this order"):
        assert heading in checkout.content.decode()
    key = checkout.context["checkout"]["key"]
    place = reverse("purchase_place", args=[slug])
    first = client.post(place, {"idempotency_key": key, "payment_method": "card"})
    # A double click (or a replayed POST) lands on the same subscription.
    second = client.post(place, {"idempotency_key": key, "payment_method": "card"})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    return first["Location"]


def test_manual_route_moves_every_user_from_e4_to_e5_and_cancels_e4(
    demo_tenant, demo_admin, settings
):
    settings.PORTAL_PROVISIONING_DELAY_SECONDS = 120
    tenant, client = demo_tenant, demo_admin
    e4 = _e4(tenant)
    people = DirectoryUser.objects.filter(tenant=tenant).count()
    assert people == 45

    subscription_url = _buy_e5(client, tenant, quantity=people)
    e5 = Subscription.objects.get(tenant=tenant, product__code="M365_E5")
    assert Order.objects.filter(tenant=tenant, kind="purchase").count() == 1

    # Until the set-up delay has passed the page says it is not ready, and it takes no users.
    page = client.get(subscription_url)
    assert "not ready yet" in page.content.decode()
    refused = client.post(
        reverse("users_licenses", args=[tenant.slug]),
        {
            "action": "replace",
            "replace_from": e4.pk,
            "replace_to": e5.pk,
            "users": [DirectoryUser.objects.filter(tenant=tenant).first().pk],
        },
    )
    assert refused.status_code == 400
    clock_advance(delta=dt.timedelta(seconds=121))
    page = client.get(subscription_url)
    assert "not ready yet" in page.content.decode()  # a page view changes nothing
    subscriptions_advance()  # the periodic lifecycle task (beat)
    page = client.get(subscription_url)
    assert "not ready yet" not in page.content.decode()
    e5.refresh_from_db()
    assert e5.status == Status.ACTIVE

    # Move every E4 user, at most 20 per request, through the Users page.
    users_url = reverse("users", args=[tenant.slug])
    steps = 0
    while True:
        listing = client.get(users_url)
        holders = [
            u.pk
            for u in listing.context["users"]
            if any(sub_id == e4.pk for sub_id, _name in u.license_list)
        ]
        if not holders:
            break
        response = client.post(
            reverse("users_licenses", args=[tenant.slug]),
            {
                "action": "replace",
                "replace_from": e4.pk,
                "replace_to": e5.pk,
                "users": holders[:20],
            },
        )
        assert response.status_code == 302
        steps += 1
    assert steps == 3

    # Reduce E4 (cancelling online needs 25 licenses or fewer), then cancel it.
    e4.refresh_from_db()
    response = client.post(
        reverse("subscription_licenses_remove", args=[tenant.slug, e4.pk]),
        {"remove-count": e4.quantity - 1},
    )
    assert response.status_code == 302
    response = client.post(
        reverse("subscription_cancel", args=[tenant.slug, e4.pk]), {"confirm": "on"}
    )
    assert response.status_code == 302

    e4.refresh_from_db()
    assert e4.quantity == 1
    assert e4.status == Status.DISABLED
    for user in DirectoryUser.objects.filter(tenant=tenant):
        plans = list(
            LicenseAssignment.objects.filter(user=user, subscription__is_addon=False).values_list(
                "subscription__product__code", flat=True
            )
        )
        assert plans == ["M365_E5"], user
    assert not LicenseAssignment.objects.filter(subscription=e4).exists()
    assert Subscription.objects.filter(tenant=tenant, product__code="M365_E5").count() == 1
