"""Bills and payments: the credit balance and every invoice; one invoice with its lines, credits,
payments and what is still due; its printable copy; Pay now for who may pay."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import BillingProfile, CreditEntry, Invoice, LineKind
from billing.payments import credit_balance, invoice_create, invoice_settle, lines_bill
from billing.pricing import Line
from portal.formatting import day_text
from portal.models import Role
from portal.templatetags.portal_format import badge

from ..factories import BillingProfileFactory, TenantFactory

pytestmark = pytest.mark.django_db

START, END = dt.date(2026, 3, 14), dt.date(2026, 4, 14)


def _url(name, tenant, *args):
    return reverse(name, args=[tenant.slug, *args])


def _charge(description="Office 365 E4", *, quantity=10, unit_price="22.00", **line):
    unit = Decimal(unit_price)
    return Line(
        description=description,
        quantity=quantity,
        amount=unit * quantity,
        unit_price=unit,
        period_start=START,
        period_end=END,
        **line,
    )


def _credit(amount="100.00"):
    return Line(
        description="Credit for unused time: Office 365 E3",
        quantity=5,
        amount=-Decimal(amount),
        unit_price=Decimal(amount) / 5,
        period_start=START,
        period_end=END,
        kind=LineKind.CREDIT,
    )


def _bill(tenant, *lines, payment_method="card"):
    return lines_bill(tenant=tenant, lines=list(lines), payment_method=payment_method)


def _section(page: str, element_id: str) -> str:
    """The HTML of the element with this id, up to its closing tag (sections and tables)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}".*?</\1>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(0)


def _short(day: dt.date) -> str:
    return day_text(day)


# --- Bills and payments ----------------------------------------------------------------------


def test_billing_page_shows_the_credit_balance_as_the_sum_of_its_ledger(tenant, admin_for):
    client, _ = admin_for(tenant)
    note = _bill(tenant, _credit("100.00"))  # +100.00 to the balance
    paid = _bill(tenant, _charge(quantity=1, unit_price="30.00"))  # -30.00 from it
    ledger = sorted(CreditEntry.objects.filter(tenant=tenant).values_list("amount", flat=True))
    assert ledger == [Decimal("-30.00"), Decimal("100.00")]
    assert credit_balance(tenant=tenant) == Decimal("70.00")

    response = client.get(_url("billing", tenant))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Bills and payments" in page
    balance = _section(page, "credit-balance")
    assert "<strong>70.00\u00a0USD</strong>" in balance
    assert "Credit to your account" in balance and "100.00\u00a0USD" in balance
    assert "Used to pay an invoice" in balance and "-30.00\u00a0USD" in balance
    for invoice in (note, paid):  # each entry links to the invoice it belongs to
        assert (
            f'href="{_url("invoice_detail", tenant, invoice.pk)}">{invoice.number}</a>' in balance
        )


def test_billing_page_without_credit_shows_a_zero_balance(tenant, admin_for):
    client, _ = admin_for(tenant)
    page = client.get(_url("billing", tenant)).content.decode()
    balance = _section(page, "credit-balance")
    assert "<strong>0.00\u00a0USD</strong>" in balance and "No credit yet." in balance
    assert "No invoices yet." in _section(page, "invoices")


def test_billing_page_lists_every_invoice_with_its_total_state_and_link(tenant, admin_for):
    client, _ = admin_for(tenant)
    note = _bill(tenant, _credit("50.00"))
    paid = _bill(tenant, _charge(quantity=2, unit_price="100.00"))  # 200.00: 50 credit + card
    unpaid = _bill(tenant, _charge("Phone System", quantity=3), payment_method="invoice")
    other = _bill(TenantFactory(), _charge("Someone else's"), payment_method="invoice")

    invoices = _section(client.get(_url("billing", tenant)).content.decode(), "invoices")

    for invoice in (note, paid, unpaid):
        assert f'href="{_url("invoice_detail", tenant, invoice.pk)}">{invoice.number}</a>' in (
            invoices
        )
    assert other.number not in invoices
    rows = re.findall(r"<tr>.*?</tr>", invoices, re.S)[1:]  # the header row first
    assert [re.search(r">(INV-\d+)<", row).group(1) for row in rows] == [
        unpaid.number,
        paid.number,
        note.number,
    ]  # newest first
    note_row, paid_row, unpaid_row = rows[2], rows[1], rows[0]
    assert "(credit note)" in note_row and "-50.00\u00a0USD" in note_row and "Paid" in note_row
    assert "200.00\u00a0USD" in paid_row and "Paid" in paid_row and "credit note" not in paid_row
    assert "66.00\u00a0USD" in unpaid_row and "Unpaid" in unpaid_row


def test_billing_page_pages_its_invoices(tenant, admin_for):
    client, _ = admin_for(tenant)
    invoices = [_bill(tenant, _charge(quantity=1, unit_price=f"{i + 1}.00")) for i in range(27)]
    first = _section(client.get(_url("billing", tenant)).content.decode(), "invoices")
    second = _section(client.get(_url("billing", tenant), {"page": 2}).content.decode(), "invoices")
    assert invoices[-1].number in first and invoices[0].number not in first
    assert invoices[0].number in second and invoices[-1].number not in second
    assert "Page 1 of 2" in first and "Page 2 of 2" in second


def test_billing_page_queries_do_not_grow_with_the_number_of_invoices(admin_for):
    def queries_for(count):
        tenant = TenantFactory()
        BillingProfileFactory(tenant=tenant)
        client, _ = admin_for(tenant)
        for i in range(count):
            # A mix: credit notes, invoices paid from the balance and by card, unpaid ones.
            if i % 4 == 0:
                _bill(tenant, _charge(quantity=2), payment_method="invoice")
            elif i % 4 == 1:
                _bill(tenant, _credit("10.00"))
            elif i % 4 == 2:
                _bill(tenant, _charge(quantity=1, unit_price="15.00"))
            else:
                _bill(tenant, _charge(quantity=1, unit_price="5.00"), _credit("1.00"))
        assert Invoice.objects.filter(tenant=tenant).count() == count
        assert Invoice.objects.filter(tenant=tenant, state=Invoice.State.UNPAID).exists()
        assert CreditEntry.objects.filter(tenant=tenant).exists()
        client.get(_url("billing", tenant))  # warm up: sessions, content types, caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(_url("billing", tenant))
        assert response.status_code == 200
        return len(queries)

    few, many = queries_for(2), queries_for(40)
    assert many == few, f"2 invoices: {few} queries, 40 invoices: {many}"


# --- One invoice -----------------------------------------------------------------------------


def test_invoice_page_lists_lines_with_period_and_unit_price_credits_payments_and_amount_due(
    tenant, admin_for
):
    client, _ = admin_for(tenant)
    _bill(tenant, _credit("100.00"))
    invoice = _bill(
        tenant,
        _charge("Office 365 E4", quantity=10, unit_price="22.00"),
        Line(description="Set-up fee", quantity=1, amount=Decimal("5.00")),
    )  # 225.00: 100.00 from the balance, 125.00 by card
    assert invoice.state == Invoice.State.PAID

    response = client.get(_url("invoice_detail", tenant, invoice.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Invoice {invoice.number}" in page
    lines = _section(page, "invoice-lines")
    e4_row, fee_row = re.findall(r"<tr>.*?</tr>", lines, re.S)[1:3]
    assert "Office 365 E4" in e4_row
    assert f"{_short(START)} – {_short(END)}" in e4_row  # the service period
    assert "22.00\u00a0USD" in e4_row and "220.00\u00a0USD" in e4_row  # price per license, amount
    assert "Set-up fee" in fee_row and "none" in fee_row  # no period, no unit price
    assert "<strong>225.00\u00a0USD</strong>" in lines  # the total
    settlement = _section(page, "invoice-settlement")
    assert "Used to pay an invoice" in settlement and "-100.00\u00a0USD" in settlement
    assert (
        f"Payment, Card on file: {badge('succeeded', 'Succeeded')}" in settlement
        and "125.00\u00a0USD" in settlement
    )
    assert '<strong id="amount-due">0.00\u00a0USD</strong>' in settlement
    assert "Pay now" not in page  # paid


def test_unpaid_invoice_shows_what_is_due_after_the_balance(tenant, admin_for):
    client, _ = admin_for(tenant)
    _bill(tenant, _credit("20.00"))
    invoice = _bill(tenant, _charge(quantity=3), payment_method="invoice")  # 66.00 - 20.00

    page = client.get(_url("invoice_detail", tenant, invoice.pk)).content.decode()

    assert "46.00\u00a0USD is unpaid." in page
    settlement = _section(page, "invoice-settlement")
    assert "-20.00\u00a0USD" in settlement and "Payment," not in settlement
    assert '<strong id="amount-due">46.00\u00a0USD</strong>' in settlement


def test_credit_note_page_shows_the_credit_to_the_account(tenant, admin_for):
    client, _ = admin_for(tenant)
    note = _bill(tenant, _credit("80.00"))
    page = client.get(_url("invoice_detail", tenant, note.pk)).content.decode()
    assert f"Credit note {note.number}" in page
    settlement = _section(page, "invoice-settlement")
    assert "Credit to your account" in settlement and "80.00\u00a0USD" in settlement


def test_an_invoice_with_nothing_settled_says_so(tenant, admin_for):
    client, _ = admin_for(tenant)
    invoice = invoice_create(tenant=tenant, lines=[_charge()])  # issued, not yet settled
    page = client.get(_url("invoice_detail", tenant, invoice.pk)).content.decode()
    assert "None yet." in _section(page, "invoice-settlement")


@pytest.mark.parametrize(
    ("role", "may_pay"),
    [
        (Role.BILLING_ADMIN, True),
        (Role.GLOBAL_ADMIN, True),
        (Role.GLOBAL_READER, False),
        (Role.LICENSE_ADMIN, False),
    ],
)
def test_pay_now_is_offered_only_to_who_may_pay(tenant, admin_for, role, may_pay):
    client, _ = admin_for(tenant, role)
    unpaid = _bill(tenant, _charge(), payment_method="invoice")
    paid = _bill(tenant, _charge())
    pay_url = _url("invoice_pay", tenant, unpaid.pk)

    page = client.get(_url("invoice_detail", tenant, unpaid.pk)).content.decode()
    billing = client.get(_url("billing", tenant)).content.decode()

    assert ("Pay now" in page) is may_pay
    assert (f'action="{pay_url}"' in page) is may_pay
    assert ("Pay now" in billing) is may_pay  # the unpaid invoices on the Billing page
    assert "Pay now" not in client.get(_url("invoice_detail", tenant, paid.pk)).content.decode()
    if not may_pay:
        assert client.post(pay_url).status_code == 403
        unpaid.refresh_from_db()
        assert unpaid.state == Invoice.State.UNPAID


def test_pay_now_from_the_invoice_page_pays_from_the_balance_then_by_card(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    invoice = _bill(tenant, _charge(quantity=3), payment_method="invoice")  # 66.00
    _bill(tenant, _credit("16.00"))  # credit that arrives after the invoice
    detail = _url("invoice_detail", tenant, invoice.pk)

    response = client.post(_url("invoice_pay", tenant, invoice.pk), {"next": detail})

    assert response.status_code == 302 and response["Location"] == detail
    page = client.get(detail).content.decode()
    settlement = _section(page, "invoice-settlement")
    assert "-16.00\u00a0USD" in settlement  # from the balance
    assert (
        f"Payment, Card on file: {badge('succeeded', 'Succeeded')}" in settlement
        and "50.00\u00a0USD" in settlement
    )
    assert '<strong id="amount-due">0.00\u00a0USD</strong>' in settlement
    assert f"Invoice {invoice.number} is paid." in page
    assert "Pay now" not in page


def test_a_declined_pay_now_is_listed_on_the_invoice(tenant, admin_for):
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    invoice = _bill(tenant, _charge(quantity=1), payment_method="invoice")
    BillingProfile.objects.filter(tenant=tenant).update(card_token="tok_decline")  # noqa: S106

    client.post(_url("invoice_pay", tenant, invoice.pk))

    page = client.get(_url("invoice_detail", tenant, invoice.pk)).content.decode()
    assert f"Payment, Card on file: {badge('declined', 'Declined')}" in _section(
        page, "invoice-settlement"
    )
    assert "22.00\u00a0USD is unpaid." in page and "Pay now" in page


# --- The printable copy ----------------------------------------------------------------------


def test_printable_invoice_has_no_navigation_and_the_same_body(tenant, admin_for):
    client, _ = admin_for(tenant)
    invoice = _bill(tenant, _charge(), payment_method="invoice")
    detail = client.get(_url("invoice_detail", tenant, invoice.pk)).content.decode()
    assert 'class="sidenav"' in detail  # the page the printable copy is compared with
    assert _url("invoice_print", tenant, invoice.pk) in detail

    response = client.get(_url("invoice_print", tenant, invoice.pk))

    assert response.status_code == 200
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert 'class="sidenav"' not in page and "<nav" not in page
    assert "Admin center navigation" not in page and "Sign out" not in page
    assert "Pay now" not in page
    assert f"<title>{invoice.number}</title>" in page
    assert f"Invoice {invoice.number}" in page
    assert _section(page, "invoice-lines") == _section(detail, "invoice-lines")
    assert _section(page, "invoice-settlement") == _section(detail, "invoice-settlement")
    assert "Accounts payable, 1 Test Street, 12345 Testville, US" in page  # billed to


def test_download_is_an_attachment_named_after_the_invoice_number(tenant, admin_for):
    client, _ = admin_for(tenant)
    invoice = _bill(tenant, _charge())

    response = client.get(_url("invoice_print", tenant, invoice.pk), {"download": 1})

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.html"'
    assert re.fullmatch(r'attachment; filename="INV-\d{6}\.html"', response["Content-Disposition"])
    assert f"Invoice {invoice.number}" in response.content.decode()


# --- Another tenant's invoice ----------------------------------------------------------------


def test_another_tenants_invoice_is_not_found(tenant, admin_for):
    client, _ = admin_for(tenant)
    _bill(tenant, _charge())
    other_tenant = TenantFactory()
    BillingProfileFactory(tenant=other_tenant)
    other = _bill(other_tenant, _charge(), payment_method="invoice")

    assert client.get(_url("invoice_detail", tenant, other.pk)).status_code == 404
    assert client.get(_url("invoice_print", tenant, other.pk)).status_code == 404
    download = client.get(_url("invoice_print", tenant, other.pk), {"download": 1})
    assert download.status_code == 404 and "Content-Disposition" not in download
    # Nor can it be paid from this tenant's pages.
    client.post(_url("invoice_pay", tenant, other.pk))
    other.refresh_from_db()
    assert other.state == Invoice.State.UNPAID
    # Under its own tenant's address the other tenant's admin sees it.
    other_client, _ = admin_for(other_tenant)
    assert other_client.get(_url("invoice_detail", other_tenant, other.pk)).status_code == 200


def test_an_invoice_settled_later_shows_on_the_page_as_settled(tenant, admin_for):
    """invoice_create then invoice_settle (what lines_bill does in one go) by card."""
    client, _ = admin_for(tenant)
    invoice = invoice_create(tenant=tenant, lines=[_charge(quantity=1)])
    invoice_settle(invoice=invoice, payment_method="card")
    settlement = _section(
        client.get(_url("invoice_detail", tenant, invoice.pk)).content.decode(),
        "invoice-settlement",
    )
    assert (
        f"Payment, Card on file: {badge('succeeded', 'Succeeded')}" in settlement
        and "22.00\u00a0USD" in settlement
    )
