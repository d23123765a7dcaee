"""Cart, checkout, place order, the admin lock and the status page, through the views."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Order, Price
from portal.models import Role
from tests.factories import UserFactory
from upgrades import engine
from upgrades.models import RunState, UpgradeCart, UpgradeRun

from .conftest import make_e4_tenant

pytestmark = pytest.mark.django_db


def signed_in(t):
    client = Client()
    client.force_login(t.admin)
    return client


def start_cart(t, client, target="O365_E5"):
    response = client.post(
        reverse("upgrade_cart_create", args=[t.tenant.slug, t.e4.pk]), {"target": target}
    )
    assert response.status_code == 302, response.content[:500]
    return UpgradeCart.objects.get(tenant=t.tenant)


def url(name, t, pk):
    return reverse(name, args=[t.tenant.slug, pk])


def open_checkout(client, t, cart):
    """Continue from the cart (the POST that freezes the prices), then load the checkout."""
    response = client.post(
        url("upgrade_cart", t, cart.pk),
        {"billing_frequency": cart.billing_frequency, "quantity": cart.quantity},
    )
    assert response.status_code == 302 and response["Location"].endswith("/checkout/")
    return client.get(response["Location"])


def checkout_key(html):
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)


def test_cart_starts_at_the_current_quantity_and_marks_addons_and_toggles():
    t = make_e4_tenant(users=8, quantity=10, addons=[("PHONE_SYSTEM", 3, 3), ("ATP", 8, 8)])
    client = signed_in(t)
    cart = start_cart(t, client)
    html = client.get(url("upgrade_cart", t, cart.pk)).content.decode()
    assert 'value="10"' in html and 'min="10"' in html
    assert "removed: included in the new plan" in html and "moves to the new plan" in html
    assert 'id="toggles-warning"' in html
    assert "Credit: unused time of Office 365 E4" in html


@pytest.mark.parametrize("quantity", [9, 0])
def test_cart_quantity_cannot_fall(quantity):
    t = make_e4_tenant(users=8, quantity=10)
    client = signed_in(t)
    cart = start_cart(t, client)
    response = client.post(
        url("upgrade_cart", t, cart.pk), {"billing_frequency": "monthly", "quantity": quantity}
    )
    assert response.status_code == 400
    assert "cannot be removed" in response.content.decode()
    cart.refresh_from_db()
    assert cart.quantity == 10


def test_cart_quantity_can_rise_and_billing_go_yearly_which_reprices():
    t = make_e4_tenant(users=8, quantity=10)
    client = signed_in(t)
    cart = start_cart(t, client)
    response = client.post(
        url("upgrade_cart", t, cart.pk), {"billing_frequency": "yearly", "quantity": 12}
    )
    assert response.status_code == 302 and response["Location"].endswith("/checkout/")
    html = client.get(response["Location"]).content.decode()
    # 38.00 x 12 licenses x 12 months
    assert "5,472.00\u00a0USD" in html
    for section in ("sold-to", "billed-to", "items", "payment"):
        assert f'id="{section}"' in html
    assert html.count(">Change</a>") >= 3


def test_checkout_freezes_the_price_that_is_charged():
    t = make_e4_tenant(users=5)
    client = signed_in(t)
    cart = start_cart(t, client)
    html = open_checkout(client, t, cart).content.decode()
    frozen_total = UpgradeCart.objects.get(pk=cart.pk).snapshot["total"]
    # The list price changes after checkout opened: the order keeps the frozen price.
    Price.objects.filter(product__code="O365_E5", currency="USD").update(monthly="99.00")
    client.get(url("upgrade_checkout", t, cart.pk))
    response = client.post(
        url("upgrade_place", t, cart.pk), {"idempotency_key": checkout_key(html)}
    )
    assert response.status_code == 302
    order = Order.objects.get(tenant=t.tenant)
    assert order.total == Decimal(frozen_total)
    run = UpgradeRun.objects.get(order=order)
    engine.run_advance(run_id=run.pk)
    assert order.invoices.get().total == Decimal(frozen_total)


def test_changing_the_cart_after_checkout_freezes_a_new_price_and_refuses_the_old_form():
    t = make_e4_tenant(users=5)
    client = signed_in(t)
    cart = start_cart(t, client)
    old = checkout_key(open_checkout(client, t, cart).content.decode())
    client.post(url("upgrade_cart", t, cart.pk), {"billing_frequency": "monthly", "quantity": 7})
    response = client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": old})
    assert response.status_code == 302 and response["Location"].endswith("/checkout/")
    assert not Order.objects.exists()


def test_sold_to_and_billed_to_can_be_changed_for_the_order():
    t = make_e4_tenant(users=5)
    client = signed_in(t)
    cart = start_cart(t, client)
    checkout = url("upgrade_checkout", t, cart.pk)
    open_checkout(client, t, cart)
    assert 'name="name"' in client.get(checkout + "?change=sold_to").content.decode()
    client.post(
        checkout,
        {
            "section": "billed_to",
            "contact_name": "Ana Payer",
            "contact_email": "ana@example.test",
            "address_line": "2 Ledger Lane",
            "city": "Bern",
            "postal_code": "3000",
            "country": "CH",
            "po_number": "PO-77",
        },
    )
    html = client.get(checkout).content.decode()
    assert "Ana Payer" in html and "PO-77" in html
    client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": checkout_key(html)})
    order = Order.objects.get(tenant=t.tenant)
    assert order.po_number == "PO-77" and order.snapshot["billed_to"]["city"] == "Bern"


def test_invoice_only_at_or_above_the_minimum_and_checkout_announces_the_credit_check(settings):
    settings.PORTAL_INVOICE_MINIMUM = "1000.00"
    small = make_e4_tenant(users=5)  # about 100 USD
    client = signed_in(small)
    cart = start_cart(small, client)
    checkout = url("upgrade_checkout", small, cart.pk)
    html = open_checkout(client, small, cart).content.decode()
    assert re.search(r'value="invoice"[^>]*disabled', html)
    client.post(checkout, {"section": "payment", "payment_method": "invoice"})
    cart.refresh_from_db()
    assert cart.payment_method == "card"
    assert 'id="credit-check-notice"' not in html

    large = make_e4_tenant(users=200)
    client = signed_in(large)
    cart = start_cart(large, client)
    checkout = url("upgrade_checkout", large, cart.pk)
    open_checkout(client, large, cart)
    client.post(checkout, {"section": "payment", "payment_method": "invoice"})
    cart.refresh_from_db()
    assert cart.payment_method == "invoice"
    assert 'id="credit-check-notice"' in client.get(checkout).content.decode()


def test_place_order_locks_admins_out_except_status_notifications_and_sign_out(
    django_capture_on_commit_callbacks,
):
    t = make_e4_tenant(users=5)
    client = signed_in(t)
    cart = start_cart(t, client)
    key = checkout_key(open_checkout(client, t, cart).content.decode())
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": key})
    run = UpgradeRun.objects.get(tenant=t.tenant)
    assert len(callbacks) == 1  # the run is queued once the order commits
    assert response["Location"] == url("upgrade_status", t, run.pk)
    # Replay: the same order and run.
    again = client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": key})
    assert again["Location"] == response["Location"]
    assert Order.objects.count() == 1

    assert client.get(reverse("products", args=[t.tenant.slug])).status_code == 423
    assert client.get(url("upgrade_tab", t, t.e4.pk)).status_code == 423
    assert client.get(url("upgrade_cart", t, cart.pk)).status_code == 423
    assert client.get(url("upgrade_status", t, run.pk)).status_code == 200
    assert client.get(reverse("notifications", args=[t.tenant.slug])).status_code == 200
    # Another admin role of the tenant is locked too; a support engineer is not.
    other = UserFactory()
    other.memberships.create(tenant=t.tenant, role=Role.BILLING_ADMIN)
    other_client = Client()
    other_client.force_login(other)
    assert other_client.get(reverse("products", args=[t.tenant.slug])).status_code == 423
    support = Client()
    support.force_login(UserFactory(is_staff=True))
    assert support.get(reverse("products", args=[t.tenant.slug])).status_code == 200
    assert support.get(url("upgrade_tab", t, t.e4.pk)).status_code == 200

    engine.run_advance(run_id=run.pk)
    assert client.get(reverse("products", args=[t.tenant.slug])).status_code == 200
    assert client.post(reverse("logout")).status_code == 302


def test_roles_that_may_not_buy_cannot_open_a_cart():
    t = make_e4_tenant(users=2, role=Role.LICENSE_ADMIN)
    client = signed_in(t)
    response = client.post(url("upgrade_cart_create", t, t.e4.pk), {"target": "O365_E5"})
    assert response.status_code == 403
    assert not UpgradeCart.objects.exists()


def test_status_page_polls_until_the_run_ends_and_shows_steps_and_progress():
    t = make_e4_tenant(users=4)
    client = signed_in(t)
    cart = start_cart(t, client)
    key = checkout_key(open_checkout(client, t, cart).content.decode())
    client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": key})
    run = UpgradeRun.objects.get(tenant=t.tenant)
    status = url("upgrade_status", t, run.pk)

    partial = client.get(status, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' in partial and "<html" not in partial
    assert "Moving starts after the new plan is bought." in partial
    assert "0 of 0 users moved" not in partial

    engine.run_advance(run_id=run.pk)
    partial = client.get(status, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 1s"' not in partial  # the poll stops (its invoices load once)
    assert "4 of 4 users moved" in partial and 'data-state="completed"' in partial
    page = client.get(status).content.decode()
    assert page.count('class="step done"') == 6


def test_failed_run_shows_its_reason_on_the_status_page():
    t = make_e4_tenant(users=4, card_token="tok_decline")
    client = signed_in(t)
    cart = start_cart(t, client)
    key = checkout_key(open_checkout(client, t, cart).content.decode())
    client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": key})
    run = UpgradeRun.objects.get(tenant=t.tenant)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    html = client.get(url("upgrade_status", t, run.pk)).content.decode()
    assert 'id="failure-reason"' in html and "declined" in html
    assert 'class="step failed"' in html and "hx-trigger" not in html


def test_expired_session_poll_gets_a_client_redirect():
    t = make_e4_tenant(users=1)
    response = Client().get(url("upgrade_status", t, 1), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login")


def test_status_is_reachable_from_the_old_and_the_new_subscription():
    from django.template import Context, Template

    t = make_e4_tenant(users=2)
    client = signed_in(t)
    cart = start_cart(t, client)
    key = checkout_key(open_checkout(client, t, cart).content.decode())
    client.post(url("upgrade_place", t, cart.pk), {"idempotency_key": key})
    run = UpgradeRun.objects.get(tenant=t.tenant)
    engine.run_advance(run_id=run.pk)
    run.refresh_from_db()
    template = Template("{% load upgrade_tags %}{% upgrade_status_link s %}")
    status = url("upgrade_status", t, run.pk)
    for subscription in (t.e4, run.new_subscription):
        assert status in template.render(Context({"s": subscription}))
    assert status in client.get(url("upgrade_tab", t, t.e4.pk)).content.decode()
    assert status in client.get(url("upgrade_tab", t, run.new_subscription_id)).content.decode()
    for pk in (t.e4.pk, run.new_subscription_id):
        page = client.get(reverse("subscription_detail", args=[t.tenant.slug, pk]))
        assert status in page.content.decode()


def test_status_page_of_another_tenant_is_not_found():
    t = make_e4_tenant(users=1)
    other = make_e4_tenant(users=1)
    client = signed_in(other)
    cart = start_cart(other, client)
    key = checkout_key(open_checkout(client, other, cart).content.decode())
    client.post(url("upgrade_place", other, cart.pk), {"idempotency_key": key})
    run = UpgradeRun.objects.get(tenant=other.tenant)
    assert signed_in(t).get(url("upgrade_status", t, run.pk)).status_code == 404
