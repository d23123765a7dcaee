import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import CreditCheck, Invoice, InvoiceLine, Order, Status, Subscription
from billing.orders import purchase_orders_advance
from billing.payments import credit_balance, credit_check_decide, invoice_create
from billing.pricing import Line
from billing.services import subscriptions_advance
from portal import clock
from portal.clock import clock_advance
from portal.models import Role

from ..factories import SubscriptionFactory, TenantFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db


def _url(name, tenant, *args):
    return reverse(name, args=[tenant.slug, *args])


# --- Your products ---------------------------------------------------------------------------


def test_your_products_lists_bases_with_addons_under_them_and_filters_by_status(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=12)
    users_with_licenses(e4, 7)
    SubscriptionFactory(tenant=tenant, product=product("PHONE_SYSTEM"), parent=e4, quantity=3)
    SubscriptionFactory(tenant=tenant, product=product("O365_E1"), status=Status.EXPIRED)

    active = client.get(_url("products", tenant)).content.decode()
    assert "Office 365 E4" in active and "7 / 12" in active
    assert active.index("Office 365 E4") < active.index("Phone System")
    assert "Office 365 E1" not in active
    expired = client.get(_url("products", tenant), {"status": "expired"}).content.decode()
    assert "Office 365 E1" in expired and "Office 365 E4" not in expired
    everything = client.get(_url("products", tenant), {"status": "all"}).content.decode()
    assert "Office 365 E1" in everything and "Office 365 E4" in everything


def test_status_filter_over_htmx_returns_only_the_table(tenant, admin_for):
    client, _ = admin_for(tenant)
    SubscriptionFactory(tenant=tenant)
    response = client.get(_url("products", tenant), {"status": "all"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<table id="product-table"')
    assert "<html" not in body


def test_another_tenants_subscription_is_not_found(tenant, admin_for):
    client, _ = admin_for(tenant)
    other = SubscriptionFactory(tenant=TenantFactory(), quantity=5)
    assert client.get(_url("subscription_detail", tenant, other.pk)).status_code == 404
    response = client.post(_url("subscription_licenses_add", tenant, other.pk), {"add-count": 1})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.quantity == 5


# --- Subscription details and its actions ----------------------------------------------------


def test_tabs_switch_over_htmx_and_by_plain_links(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant)
    users_with_licenses(e4, 2)
    url = _url("subscription_detail", tenant, e4.pk)
    page = client.get(url).content.decode()
    assert "What you can do now" in page
    assert reverse("upgrade_tab", args=[tenant.slug, e4.pk]) in page
    licenses = client.get(url, {"tab": "licenses"}).content.decode()
    assert "User 000000" in licenses
    fragment = client.get(url, {"tab": "addons"}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<section id="tab-panel" data-tab="addons"')


def test_buying_more_licenses_charges_the_rest_of_the_period_on_an_invoice_line(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    response = client.post(_url("subscription_licenses_add", tenant, e5.pk), {"add-count": 5})
    assert response.status_code == 302
    e5.refresh_from_db()
    assert e5.quantity == 15
    line = InvoiceLine.objects.get(subscription=e5)
    assert line.quantity == 5 and line.amount > 0
    assert line.invoice.state == Invoice.State.PAID  # card on file


def test_removing_licenses_credits_unused_time(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    users_with_licenses(e5, 4)
    response = client.post(_url("subscription_licenses_remove", tenant, e5.pk), {"remove-count": 6})
    assert response.status_code == 302
    e5.refresh_from_db()
    assert e5.quantity == 4
    assert InvoiceLine.objects.get(subscription=e5).amount < 0


def test_quantity_below_assigned_is_refused_and_changes_nothing(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    users_with_licenses(e5, 8)
    response = client.post(_url("subscription_licenses_remove", tenant, e5.pk), {"remove-count": 3})
    assert response.status_code == 400
    assert "cannot go below 8 licenses" in response.content.decode()
    e5.refresh_from_db()
    assert e5.quantity == 10
    assert not InvoiceLine.objects.exists()


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"is_prepaid": True}, "prepaid"),
        ({"channel": "partner"}, "partner"),
        ({"is_trial": True}, "trial"),
    ],
)
def test_each_blocker_of_removing_licenses_is_shown_with_its_reason(
    tenant, admin_for, options, code
):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10, **options)
    page = client.get(_url("subscription_licenses_remove", tenant, e5.pk)).content.decode()
    assert f'data-code="{code}"' in page
    response = client.post(_url("subscription_licenses_remove", tenant, e5.pk), {"remove-count": 1})
    assert response.status_code == 400
    e5.refresh_from_db()
    assert e5.quantity == 10


def test_pending_credit_check_blocks_removing_licenses(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    order = Order.objects.create(
        tenant=tenant,
        kind="purchase",
        idempotency_key="k",
        currency="USD",
        total=Decimal("1"),
        payment_method="invoice",
        placed_at=e5.created_at,
    )
    CreditCheck.objects.create(
        tenant=tenant, order=order, requested_at=e5.created_at, deadline=e5.created_at
    )
    response = client.post(_url("subscription_licenses_remove", tenant, e5.pk), {"remove-count": 1})
    assert response.status_code == 400
    assert "credit check is pending" in response.content.decode()


def test_end_of_sale_plan_can_be_lowered_to_its_users_but_not_grown(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(
        tenant=tenant, quantity=10, paid_through=clock.today() + dt.timedelta(days=15)
    )
    users_with_licenses(e4, 2)
    page = client.get(_url("subscription_detail", tenant, e4.pk)).content.decode()
    assert "Remove licenses: yes." in page and "Buy more licenses: not possible." in page
    added = client.post(_url("subscription_licenses_add", tenant, e4.pk), {"add-count": 1})
    assert added.status_code == 400 and "no longer sold" in added.content.decode()
    too_many = client.post(_url("subscription_licenses_remove", tenant, e4.pk), {"remove-count": 9})
    assert too_many.status_code == 400 and "cannot go below 2 licenses" in too_many.content.decode()
    e4.refresh_from_db()
    assert e4.quantity == 10
    removed = client.post(_url("subscription_licenses_remove", tenant, e4.pk), {"remove-count": 8})
    assert removed.status_code in (200, 302)
    e4.refresh_from_db()
    assert e4.quantity == 2
    # The unused time of the 8 licenses goes to the credit balance at the price paid.
    line = InvoiceLine.objects.get(subscription=e4)
    assert line.kind == "credit" and line.quantity == -8 and line.amount < 0
    assert credit_balance(tenant=tenant) == -line.amount
    page = client.get(_url("subscription_detail", tenant, e4.pk)).content.decode()
    assert "Remove licenses: not possible." in page  # every remaining license is in use


def test_cancel_above_25_licenses_shows_the_reason_and_the_way_forward(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=26)
    page = client.get(_url("subscription_cancel", tenant, e5.pk)).content.decode()
    assert "cannot be cancelled online" in page and "Remove licenses" in page
    response = client.post(_url("subscription_cancel", tenant, e5.pk), {"confirm": "on"})
    assert response.status_code == 400
    e5.refresh_from_db()
    assert e5.status == Status.ACTIVE


def test_cancel_disables_the_subscription_and_its_addons_and_credits_unused_time(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)
    addon = SubscriptionFactory(tenant=tenant, product=product("ATP"), parent=e5, quantity=5)
    response = client.post(_url("subscription_cancel", tenant, e5.pk), {"confirm": "on"})
    assert response.status_code == 302
    e5.refresh_from_db()
    addon.refresh_from_db()
    assert e5.status == addon.status == Status.DISABLED
    assert sum(line.amount for line in InvoiceLine.objects.all()) < 0
    assert list(e5.status_history.values_list("to_status", flat=True)) == ["disabled"]


def test_reactivate_brings_a_disabled_subscription_back(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(
        tenant=tenant,
        product=product("M365_E5"),
        status=Status.DISABLED,
        paid_through=dt.date(2000, 1, 1),
    )
    response = client.post(_url("subscription_reactivate", tenant, e5.pk))
    assert response.status_code == 302
    e5.refresh_from_db()
    assert e5.status == Status.ACTIVE
    assert e5.paid_through > dt.date.today()
    assert InvoiceLine.objects.get(subscription=e5).amount > 0


def test_lifecycle_task_advances_expired_to_disabled_to_deleted_on_time(tenant):
    subscription = SubscriptionFactory(tenant=tenant, status=Status.EXPIRED)
    clock_advance(delta=dt.timedelta(days=29))
    subscriptions_advance()
    subscription.refresh_from_db()
    assert subscription.status == Status.EXPIRED
    clock_advance(delta=dt.timedelta(days=1, seconds=1))
    subscriptions_advance()
    subscription.refresh_from_db()
    assert subscription.status == Status.DISABLED
    clock_advance(delta=dt.timedelta(days=90, seconds=1))
    subscriptions_advance()
    subscription.refresh_from_db()
    assert subscription.status == Status.DELETED


def test_lifecycle_task_expires_at_the_paid_through_date_what_does_not_renew(tenant):
    paid_through = clock.today() + dt.timedelta(days=3)
    ending = SubscriptionFactory(
        tenant=tenant,
        product=product("O365_E3"),
        recurring_billing=False,
        paid_through=paid_through,
    )
    # Recurring billing on, but no longer sold: it cannot renew, so it ends too.
    retired = SubscriptionFactory(tenant=tenant, recurring_billing=True, paid_through=paid_through)
    renewing = SubscriptionFactory(
        tenant=tenant, product=product("O365_E3"), recurring_billing=True, paid_through=paid_through
    )
    clock_advance(delta=dt.timedelta(days=2))
    assert subscriptions_advance()["expired"] == 0
    clock_advance(delta=dt.timedelta(days=1))
    assert subscriptions_advance()["expired"] == 2
    for subscription in (ending, retired, renewing):
        subscription.refresh_from_db()
    assert ending.status == retired.status == Status.EXPIRED
    assert ending.status_history.last().reason == "paid period ended"
    assert renewing.status == Status.ACTIVE  # the renewal pass's business


# --- Roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.GLOBAL_READER, Role.LICENSE_ADMIN, Role.USER_ADMIN])
def test_roles_without_purchase_see_no_actions_and_are_refused(tenant, admin_for, role):
    client, _ = admin_for(tenant, role)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    page = client.get(_url("subscription_detail", tenant, e5.pk)).content.decode()
    assert "Cancel subscription" not in page and "Buy licenses" not in page
    for name, data in [
        ("subscription_licenses_add", {"add-count": 1}),
        ("subscription_licenses_remove", {"remove-count": 1}),
        ("subscription_cancel", {"confirm": "on"}),
    ]:
        assert client.post(_url(name, tenant, e5.pk), data).status_code == 403
    assert client.post(_url("purchase_start", tenant), {}).status_code == 403
    assert client.post(_url("purchase_place", tenant), {}).status_code == 403
    e5.refresh_from_db()
    assert (e5.quantity, e5.status) == (10, Status.ACTIVE)


def test_support_engineer_reads_every_tenant_but_cannot_buy(tenant, support_client):
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"))
    assert support_client.get(_url("subscription_detail", tenant, e5.pk)).status_code == 200
    response = support_client.post(_url("subscription_cancel", tenant, e5.pk), {"confirm": "on"})
    assert response.status_code == 403


# --- Buying ------------------------------------------------------------------------------------


def _checkout(client, tenant, **cart):
    client.post(_url("purchase_start", tenant), cart)
    return client.get(_url("purchase_checkout", tenant))


def test_declined_card_places_nothing(tenant, admin_for):
    tenant.billing_profile.card_token = "tok_decline"
    tenant.billing_profile.save()
    client, _ = admin_for(tenant)
    checkout = _checkout(client, tenant, product="O365_E1", quantity=2, billing_frequency="monthly")
    response = client.post(
        _url("purchase_place", tenant),
        {"idempotency_key": checkout.context["checkout"]["key"], "payment_method": "card"},
    )
    assert response.status_code == 400
    assert "declined" in response.content.decode()
    assert not Subscription.objects.filter(tenant=tenant).exists()
    assert not Order.objects.filter(tenant=tenant).exists()


def test_invoice_payment_waits_for_the_credit_check_then_creates_the_subscription(
    tenant, admin_for, settings
):
    settings.PORTAL_INVOICE_MINIMUM = "100.00"
    client, user = admin_for(tenant)
    checkout = _checkout(client, tenant, product="M365_E5", quantity=10, billing_frequency="yearly")
    assert "needs a credit check" in checkout.content.decode()
    response = client.post(
        _url("purchase_place", tenant),
        {"idempotency_key": checkout.context["checkout"]["key"], "payment_method": "invoice"},
    )
    order = Order.objects.get(tenant=tenant)
    assert response["Location"] == _url("order_detail", tenant, order.pk)
    assert not Subscription.objects.filter(tenant=tenant).exists()
    products_page = client.get(_url("products", tenant)).content.decode()
    assert "waiting for a credit check" in products_page

    credit_check_decide(credit_check=order.credit_check, approve=True, actor=None, reason="ok")
    assert purchase_orders_advance()["completed"] == 1
    order.refresh_from_db()
    assert order.state == Order.State.COMPLETED
    assert order.subscription.channel == "direct_invoice"
    assert order.invoices.get().state == Invoice.State.UNPAID


def test_unpaid_invoice_shows_pay_now_and_paying_settles_it(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    invoice = Invoice.objects.create(
        tenant=tenant,
        number="INV-T-1",
        currency="USD",
        issued_at=tenant.created_at,
        due_date=dt.date.today(),
        amount_due=Decimal("880.00"),
    )
    InvoiceLine.objects.create(invoice=invoice, description="E4", amount=Decimal("880.00"))
    page = client.get(_url("products", tenant)).content.decode()
    assert "Pay now" in page and "880.00" in page
    response = client.post(_url("invoice_pay", tenant, invoice.pk))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.PAID
    reader, _ = admin_for(tenant, Role.GLOBAL_READER)
    assert "Pay now" not in reader.get(_url("products", tenant)).content.decode()


def test_provisioning_subscription_becomes_active_by_the_periodic_task(tenant, settings):
    from billing.services import subscription_create

    settings.PORTAL_PROVISIONING_DELAY_SECONDS = 60
    subscription = subscription_create(
        tenant=tenant,
        product=product("M365_E5"),
        quantity=1,
        billing_frequency="monthly",
        channel="direct_card",
    )
    subscriptions_advance()
    subscription.refresh_from_db()
    assert subscription.status == Status.PROVISIONING
    clock_advance(delta=dt.timedelta(seconds=61))
    assert subscriptions_advance()["activated"] == 1
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE


def test_checkout_change_links_edit_billed_to_and_sold_to_and_return_to_checkout(tenant, admin_for):
    client, _ = admin_for(tenant)
    checkout = _checkout(client, tenant, product="O365_E1", quantity=1, billing_frequency="monthly")
    key = checkout.context["checkout"]["key"]
    back = _url("purchase_checkout", tenant)
    response = client.post(
        _url("billed_to_edit", tenant),
        {
            "contact_name": "Finance team",
            "contact_email": "finance@example.test",
            "address_line": "2 Side Road",
            "city": "Lund",
            "postal_code": "22100",
            "country": "SE",
            "po_number": "PO-77",
            "next": back,
        },
    )
    assert response.status_code == 302 and response["Location"] == back
    bad = client.post(_url("sold_to_edit", tenant), {"name": "", "next": back})
    assert bad.status_code == 400 and "This field is required" in bad.content.decode()
    client.post(
        _url("sold_to_edit", tenant),
        {
            "name": "Renamed Ltd",
            "address_line": "3 Road",
            "city": "Malmo",
            "postal_code": "21100",
            "country": "SE",
        },
    )
    again = client.get(back)
    body = again.content.decode()
    assert "Finance team" in body and "PO-77" in body and "Renamed Ltd" in body
    # The frozen quote and its idempotency key survive the detour.
    assert again.context["checkout"]["key"] == key


def test_license_dialog_over_htmx_shows_the_rule_in_the_tab(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=10)
    users_with_licenses(e5, 9)
    response = client.post(
        _url("subscription_licenses_remove", tenant, e5.pk),
        {"remove-count": 5},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="tab-panel" data-tab="licenses"')
    assert "cannot go below 9 licenses" in body
    e5.refresh_from_db()
    assert e5.quantity == 10
    ok = client.post(
        _url("subscription_licenses_remove", tenant, e5.pk),
        {"remove-count": 1},
        HTTP_HX_REQUEST="true",
    )
    assert "1 license removed." in ok.content.decode()
    e5.refresh_from_db()
    assert e5.quantity == 9


def test_reactivating_right_after_cancelling_charges_the_credited_time_again(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)
    client.post(_url("subscription_cancel", tenant, e5.pk), {"confirm": "on"})
    credit = InvoiceLine.objects.get(subscription=e5).amount
    assert credit < 0

    client.post(_url("subscription_reactivate", tenant, e5.pk))
    e5.refresh_from_db()
    assert e5.status == Status.ACTIVE
    charges = InvoiceLine.objects.filter(subscription=e5, amount__gt=0)
    # The unused time was refunded at cancellation: coming back pays for a new period.
    assert charges.count() == 1 and charges.get().amount >= -credit


def test_an_add_on_cannot_be_reactivated_while_its_base_is_not_active(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)
    addon = SubscriptionFactory(tenant=tenant, product=product("ATP"), parent=e5, quantity=5)
    client.post(_url("subscription_cancel", tenant, e5.pk), {"confirm": "on"})

    page = client.get(_url("subscription_detail", tenant, addon.pk)).content.decode()
    assert "Reactivate: yes." not in page
    response = client.post(_url("subscription_reactivate", tenant, addon.pk), follow=True)
    assert "Reactivate Microsoft 365 E5 first" in response.content.decode()
    addon.refresh_from_db()
    assert addon.status == Status.DISABLED


def test_htmx_history_restore_gets_the_whole_page_and_responses_vary_on_hx_request(
    tenant, admin_for
):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant)
    for url, data in [
        (_url("products", tenant), {"status": "all"}),
        (_url("subscription_detail", tenant, e4.pk), {"tab": "licenses"}),
    ]:
        fragment = client.get(url, data, HTTP_HX_REQUEST="true")
        assert "<html" not in fragment.content.decode()
        assert "HX-Request" in fragment["Vary"]
        # After Back, htmx re-fetches a pushed URL missing from its cache and swaps in <body>.
        restored = client.get(
            url, data, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
        )
        assert "<html" in restored.content.decode()
        assert "HX-Request" in client.get(url, data)["Vary"]


def test_history_shows_status_labels_and_translated_system_reasons(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)
    client.post(_url("subscription_cancel", tenant, e5.pk), {"confirm": "on"})
    client.post(_url("subscription_reactivate", tenant, e5.pk))

    page = client.get(_url("subscription_detail", tenant, e5.pk)).content.decode()
    history = page[page.index("<h2>History</h2>") :]
    assert "<td>Active</td><td>Disabled</td><td>Cancelled by an admin</td>" in history
    assert "<td>Disabled</td><td>Active</td><td>Reactivated by an admin</td>" in history
    assert "cancelled by admin" not in history and "<td>active</td>" not in history


def test_adding_licenses_beyond_the_most_a_subscription_holds_is_refused(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=999_999)
    response = client.post(_url("subscription_licenses_add", tenant, e5.pk), {"add-count": 2})
    assert response.status_code == 400
    assert "you can add at most 1" in response.content.decode()
    e5.refresh_from_db()
    assert e5.quantity == 999_999
    assert not InvoiceLine.objects.exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_next_pointing_off_site_is_ignored(tenant, admin_for, target):
    client, _ = admin_for(tenant)
    sold_to = {
        "name": "Renamed Ltd",
        "address_line": "3 Road",
        "city": "Malmo",
        "postal_code": "21100",
        "country": "SE",
        "next": target,
    }
    response = client.post(_url("sold_to_edit", tenant), sold_to)
    assert response["Location"] == _url("purchase_checkout", tenant)
    # Pay now goes back to `next` only when it is on-site.
    invoice = invoice_create(
        tenant=tenant,
        lines=[Line(description="Office 365 E4", quantity=1, amount=Decimal("22.00"))],
    )
    paid = client.post(_url("invoice_pay", tenant, invoice.pk), {"next": target})
    assert paid["Location"] == _url("products", tenant)
