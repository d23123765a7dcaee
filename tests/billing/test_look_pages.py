"""How the billing pages read (issue 15): money with the language's separators and its
currency, counts in sentences through plurals, status badges, the command bars of Your products
and of a subscription (only the commands the admin's role allows), list prices on the Buy page,
the payment method chosen on the checkout page itself, and an upgraded subscription that says
where it went instead of offering Reactivate."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import Invoice, InvoiceLine, Order, Price, Status, Subscription
from billing.payments import lines_bill
from billing.pricing import Line
from portal.models import Role
from portal.templatetags.portal_format import badge

from ..factories import SubscriptionFactory, product, users_with_licenses

pytestmark = pytest.mark.django_db

NBSP = "\u00a0"


def _url(name, tenant, *args):
    return reverse(name, args=[tenant.slug, *args])


def _section(page: str, element_id: str) -> str:
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}".*?</\1>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(0)


def _usd(text: str) -> str:
    return f"{text}{NBSP}USD"


# --- Money, counts, dates, badges ------------------------------------------------------------


def test_invoice_amounts_have_thousands_separators_and_the_currency(tenant, admin_for):
    client, _ = admin_for(tenant)
    unit = Decimal("38.00")
    invoice = lines_bill(
        tenant=tenant,
        lines=[Line(description="Office 365 E5", quantity=320, amount=unit * 320, unit_price=unit)],
        payment_method="invoice",
    )

    page = client.get(_url("invoice_detail", tenant, invoice.pk)).content.decode()
    billing = client.get(_url("billing", tenant)).content.decode()

    lines = _section(page, "invoice-lines")
    assert '<td class="num">' + _usd("12,160.00") + "</td>" in lines
    assert f"<strong>{_usd('12,160.00')}</strong>" in lines
    assert "12160.00" not in page and "12160.00" not in billing
    assert _usd("12,160.00") + " is unpaid." in page
    assert badge("unpaid", "Unpaid") in page
    assert f'<td class="num">{_usd("12,160.00")}</td>' in _section(billing, "invoices")
    assert "SHORT_DATE" not in page and re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", page)


def test_products_list_counts_with_separators_and_status_badges(tenant, admin_for):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=12_000)
    users_with_licenses(e4, 3)
    SubscriptionFactory(tenant=tenant, product=product("O365_E1"), status=Status.EXPIRED)

    page = client.get(_url("products", tenant), {"status": "all"}).content.decode()

    assert "3 / 12,000" in page
    assert badge("active", "Active") in page and badge("expired", "Expired") in page
    assert '<span class="badge active">' not in page


def test_license_count_page_says_one_license_in_the_singular(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=1)

    page = client.get(_url("subscription_licenses_add", tenant, e5.pk)).content.decode()
    many = SubscriptionFactory(tenant=tenant, product=product("M365_E3"), quantity=2_500)
    plural = client.get(_url("subscription_licenses_add", tenant, many.pk)).content.decode()

    assert "0 of 1 license is assigned." in page and "1 licenses" not in page
    assert "0 of 2,500 licenses are assigned." in plural


def test_subscription_licenses_tab_says_one_license_in_the_singular(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=1)
    users_with_licenses(e5, 1)

    page = client.get(_url("subscription_detail", tenant, e5.pk), {"tab": "licenses"})

    body = page.content.decode()
    assert "<strong>1 / 1</strong> license assigned / purchased" in body


# --- Command bars ----------------------------------------------------------------------------


def _commands(page: str, element_id: str) -> list[str]:
    bar = _section(page, element_id)
    return [
        re.sub(r"<[^>]+>", "", m).strip()
        for m in re.findall(r"<(?:a|button)\b.*?</(?:a|button)>", bar, re.S)
    ]


@pytest.mark.parametrize("role", [Role.GLOBAL_ADMIN, Role.BILLING_ADMIN])
def test_your_products_has_a_command_bar_for_who_may_buy(tenant, admin_for, role):
    client, _ = admin_for(tenant, role)
    SubscriptionFactory(tenant=tenant, product=product("M365_E5"))

    page = client.get(_url("products", tenant)).content.decode()

    bar = _section(page, "product-commandbar")
    assert 'class="commandbar"' in bar
    assert [c for c in _commands(page, "product-commandbar") if c != "Filter"] == [
        "Buy a subscription",
        "Add licenses",
        "Remove licenses",
        "Upgrade",
    ]
    # Each row can be chosen for the commands (its radio button belongs to their form).
    assert 'type="radio" name="subscription"' in page and 'form="product-commands"' in page


@pytest.mark.parametrize("role", [Role.GLOBAL_READER, Role.LICENSE_ADMIN, Role.USER_ADMIN])
def test_your_products_shows_no_buying_commands_to_roles_that_may_not_buy(tenant, admin_for, role):
    client, _ = admin_for(tenant, role)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"))

    page = client.get(_url("products", tenant)).content.decode()

    assert 'id="product-commandbar"' in page  # the filter is still there
    for command in ("Buy a subscription", "Add licenses", "Remove licenses", "Upgrade"):
        assert command not in _commands(page, "product-commandbar")
    assert 'name="subscription"' not in page
    # The commands themselves are refused too.
    response = client.get(_url("products", tenant), {"command": "add", "subscription": e5.pk})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("command", "url_name"),
    [
        ("add", "subscription_licenses_add"),
        ("remove", "subscription_licenses_remove"),
        ("upgrade", "upgrade_tab"),
    ],
)
def test_a_command_opens_its_page_for_the_chosen_subscription(tenant, admin_for, command, url_name):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"))

    response = client.get(_url("products", tenant), {"command": command, "subscription": e5.pk})

    assert response.status_code == 302
    assert response["Location"] == _url(url_name, tenant, e5.pk)


def test_a_command_without_a_chosen_subscription_says_to_choose_one(tenant, admin_for):
    client, _ = admin_for(tenant)
    SubscriptionFactory(tenant=tenant, product=product("M365_E5"))

    response = client.get(_url("products", tenant), {"command": "add"}, follow=True)

    assert "Select a subscription in the list first." in response.content.decode()


def test_a_command_on_another_tenants_subscription_is_not_found(tenant, admin_for):
    from ..factories import TenantFactory

    client, _ = admin_for(tenant)
    other = SubscriptionFactory(tenant=TenantFactory(), product=product("M365_E5"))

    response = client.get(_url("products", tenant), {"command": "add", "subscription": other.pk})

    assert response.status_code == 404


def test_subscription_page_has_a_command_bar_and_a_details_pane(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=5)

    page = client.get(_url("subscription_detail", tenant, e5.pk)).content.decode()

    assert _commands(page, "subscription-commands") == [
        "Add licenses",
        "Remove licenses",
        "Upgrade",
        "Cancel subscription",
    ]
    panel = _section(page, "tab-panel")
    details = panel[panel.index('<div class="details">') :]
    assert details.index("Paid through") < details.index("What you can do now")
    # The current tab is marked for assistive technology, not only by a class.
    assert re.search(r'<a href="[^"]*\?tab=overview"[^>]*aria-current="page"', panel)


def test_subscription_command_bar_leaves_out_what_the_subscription_does_not_allow(
    tenant, admin_for
):
    client, _ = admin_for(tenant)
    e4 = SubscriptionFactory(tenant=tenant, quantity=40)  # end of sale, above 25 licenses
    users_with_licenses(e4, 40)

    page = client.get(_url("subscription_detail", tenant, e4.pk)).content.decode()

    assert _commands(page, "subscription-commands") == ["Upgrade"]


@pytest.mark.parametrize("role", [Role.GLOBAL_READER, Role.LICENSE_ADMIN, Role.USER_ADMIN])
def test_subscription_page_has_no_commands_for_roles_that_may_not_buy(tenant, admin_for, role):
    client, _ = admin_for(tenant, role)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"))

    page = client.get(_url("subscription_detail", tenant, e5.pk)).content.decode()

    assert 'id="subscription-commands"' not in page
    assert _url("subscription_licenses_add", tenant, e5.pk) not in page
    assert _url("subscription_licenses_remove", tenant, e5.pk) not in page
    assert _url("subscription_cancel", tenant, e5.pk) not in page


# --- Prices on the Buy page --------------------------------------------------------------------


def test_buy_page_shows_each_plans_price_per_user_per_month_and_per_year(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)

    page = client.get(_url("purchase_start", tenant)).content.decode()

    offers = _section(page, "buy-offers")
    e5 = offers[offers.index('data-product="O365_E5"') :]
    e5 = e5[: e5.index("</tr>")]
    assert _usd("38.00") + " per user per month" in e5
    assert _usd("456.00") + " per user per year" in e5
    bb = offers[offers.index('data-product="M365_BB"') :]
    assert _usd("6.00") + " per user per month" in bb[: bb.index("</tr>")]


def test_buy_page_prices_are_in_the_tenants_currency(tenant, admin_for):
    tenant.currency = "SEK"
    tenant.save(update_fields=["currency"])
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)

    page = client.get(_url("purchase_start", tenant)).content.decode()

    assert f"399.00{NBSP}SEK per user per month" in page
    assert f"4,788.00{NBSP}SEK per user per year" in page
    assert "USD" not in _section(page, "buy-offers")


def test_buy_an_add_on_shows_its_price_per_unit_and_only_the_bases_billing(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), billing_frequency="monthly")

    page = client.get(_url("purchase_start", tenant), {"parent": e5.pk}).content.decode()

    offers = _section(page, "buy-offers")
    assert "per GB per month" in offers  # extra file storage is sold by the GB
    assert "per year" not in offers  # a monthly base bills its add-ons monthly


def test_buy_page_query_count_does_not_grow_with_the_catalog(
    tenant, admin_for, django_assert_max_num_queries
):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    url = _url("purchase_start", tenant)
    client.get(url)  # session and catalog caches warm
    with django_assert_max_num_queries(BUY_PAGE_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
    plans = response.content.decode().count("per user per month")
    assert plans >= 8  # every plan on sale is priced within those queries
    # A product without a price in the tenant's currency says so instead of failing.
    Price.objects.filter(product__code="M365_BB", currency="USD").delete()
    with django_assert_max_num_queries(BUY_PAGE_QUERIES):
        page = client.get(url).content.decode()
    assert "No price in USD" in page


# The user, the tenant's admin lock, the membership with its tenant, the scheduled-upgrade
# banner, and the plans with their prices in one query.
BUY_PAGE_QUERIES = 5


# --- Checkout: card or invoice in one step ----------------------------------------------------


def _checkout(client, tenant, **cart):
    client.post(_url("purchase_start", tenant), cart)
    return client.get(_url("purchase_checkout", tenant))


def test_checkout_offers_card_and_invoice_as_radio_buttons_in_the_order_form(
    tenant, admin_for, settings
):
    settings.PORTAL_INVOICE_MINIMUM = "100.00"
    client, _ = admin_for(tenant)

    checkout = _checkout(client, tenant, product="M365_E5", quantity=10, billing_frequency="yearly")

    form = _section(checkout.content.decode(), "checkout-payment")
    assert 'type="radio" name="payment_method" value="card"' in form
    assert re.search(
        r'type="radio" name="payment_method" value="invoice" id="payment-invoice">', form
    )
    assert "Place order" in form and "?change=" not in form

    response = client.post(
        _url("purchase_place", tenant),
        {"idempotency_key": checkout.context["checkout"]["key"], "payment_method": "invoice"},
    )
    assert response.status_code == 302
    assert Order.objects.get(tenant=tenant).payment_method == "invoice"


def test_checkout_shows_invoice_disabled_with_the_reason_below_the_minimum(
    tenant, admin_for, settings
):
    settings.PORTAL_INVOICE_MINIMUM = "5000.00"
    client, _ = admin_for(tenant)

    checkout = _checkout(client, tenant, product="O365_E1", quantity=1, billing_frequency="monthly")

    form = _section(checkout.content.decode(), "checkout-payment")
    assert re.search(r'value="invoice" id="payment-invoice" disabled', form)
    assert f"orders of {_usd('5,000.00')} or more" in form
    # The server refuses an invoice the page did not offer.
    response = client.post(
        _url("purchase_place", tenant),
        {"idempotency_key": checkout.context["checkout"]["key"], "payment_method": "invoice"},
    )
    assert response.status_code == 400
    assert not Order.objects.filter(tenant=tenant).exists()
    assert 'value="card" id="payment-card" checked' in response.content.decode()


# --- An upgraded subscription ------------------------------------------------------------------


def _upgraded(e4_tenant):
    from tests.upgrades.conftest import place
    from upgrades import engine
    from upgrades.models import RunState

    run = place(e4_tenant)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    return Subscription.objects.get(pk=run.new_subscription_id)


def test_an_upgraded_subscription_links_to_the_new_one_and_offers_no_reactivate(db):
    from django.test import Client

    from tests.upgrades.conftest import make_e4_tenant

    t = make_e4_tenant(users=3)
    new = _upgraded(t)
    t.e4.refresh_from_db()
    assert t.e4.status == Status.EXPIRED
    client = Client()
    client.force_login(t.admin)

    page = client.get(_url("subscription_detail", t.tenant, t.e4.pk)).content.decode()

    notice = _section(page, "upgraded-to")
    assert "upgraded to Office 365 E5" in notice
    assert f'href="{_url("subscription_detail", t.tenant, new.pk)}"' in notice
    assert "Reactivate: yes." not in page
    assert _url("subscription_reactivate", t.tenant, t.e4.pk) not in page
    assert "Reactivate: not possible." in page
    # Your products says it too, in the list that shows expired subscriptions.
    products = client.get(_url("products", t.tenant), {"status": "all"}).content.decode()
    row = products[products.index("Office 365 E4") :]
    row = row[: row.index("</tr>")]
    assert "Upgraded to" in row and _url("subscription_detail", t.tenant, new.pk) in row


def test_reactivating_an_upgraded_subscription_is_refused_by_the_service_too(db):
    """A stale tab or a hand-made POST cannot bring the old plan back and charge a new term:
    the refusal is the service's rule, not only the page's missing button."""
    from django.test import Client

    from tests.upgrades.conftest import make_e4_tenant

    t = make_e4_tenant(users=3)
    _upgraded(t)
    t.e4.refresh_from_db()
    invoices = Invoice.objects.filter(tenant=t.tenant).count()
    client = Client()
    client.force_login(t.admin)

    response = client.post(_url("subscription_reactivate", t.tenant, t.e4.pk), follow=True)

    t.e4.refresh_from_db()
    assert t.e4.status == Status.EXPIRED
    assert Invoice.objects.filter(tenant=t.tenant).count() == invoices
    assert "It was upgraded to Office 365 E5" in response.content.decode()


def test_an_expired_subscription_that_was_not_upgraded_still_offers_reactivate(tenant, admin_for):
    client, _ = admin_for(tenant)
    e5 = SubscriptionFactory(
        tenant=tenant,
        product=product("M365_E5"),
        status=Status.EXPIRED,
        paid_through=dt.date(2000, 1, 1),
    )
    # Another subscription's completed order is no upgrade of this one.
    Order.objects.create(
        tenant=tenant,
        kind=Order.Kind.UPGRADE,
        state=Order.State.COMPLETED,
        idempotency_key="other",
        currency="USD",
        total=Decimal("1.00"),
        payment_method="card",
        placed_at=e5.created_at,
        snapshot={"source": {"id": e5.pk + 1000}},
        subscription=SubscriptionFactory(tenant=tenant, product=product("O365_E3")),
    )

    page = client.get(_url("subscription_detail", tenant, e5.pk)).content.decode()

    assert 'id="upgraded-to"' not in page
    assert "Reactivate: yes." in page
    assert _url("subscription_reactivate", tenant, e5.pk) in page


def test_unpaid_invoices_box_shows_money_right_aligned(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    invoice = Invoice.objects.create(
        tenant=tenant,
        number="INV-T-9",
        currency="USD",
        issued_at=tenant.created_at,
        due_date=dt.date.today(),
        amount_due=Decimal("1880.00"),
    )
    InvoiceLine.objects.create(invoice=invoice, description="E4", amount=Decimal("1880.00"))

    page = client.get(_url("products", tenant)).content.decode()
    box = page[page.index('id="unpaid-invoices"') :]
    box = box[: box.index("</table>")]

    assert f'<td class="num">{_usd("1,880.00")}</td>' in box
