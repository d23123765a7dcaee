"""Recurring billing on the simulated clock: every term billed exactly once (also with two
workers at once), declined renewals through Pay now or the grace period, recurring billing off,
add-ons renewing with their base, and the credit balance paying renewals first."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from billing import renewals
from billing.models import (
    CreditEntry,
    Invoice,
    InvoiceLine,
    LineKind,
    Payment,
    Price,
    Status,
    Subscription,
)
from billing.payments import credit_balance, invoice_pay, lines_bill
from billing.pricing import Line, add_months
from billing.tasks import subscriptions_advance as billing_task
from portal import clock
from portal.clock import clock_advance
from portal.errors import DomainError
from portal.models import AuditEvent, Notification, Role
from tests.factories import BillingProfileFactory, SubscriptionFactory, TenantFactory, product
from tests.upgrades.conftest import catalog_ensure

pytestmark = pytest.mark.django_db


def _renewal_lines(subscription):
    return list(
        InvoiceLine.objects.filter(subscription=subscription, kind=LineKind.RENEWAL).order_by(
            "period_start"
        )
    )


def _subscription(tenant, *, code="O365_E3", frequency="monthly", days=1, **fields):
    return SubscriptionFactory(
        tenant=tenant,
        product=product(code),
        quantity=fields.pop("quantity", 10),
        billing_frequency=frequency,
        paid_through=clock.today() + dt.timedelta(days=days),
        recurring_billing=fields.pop("recurring_billing", True),
        **fields,
    )


def _walk(days: int, *, step: int = 5, twice: bool = True) -> None:
    """Move the clock `days` ahead in steps, running the periodic task (twice: a re-run must
    bill nothing more) at each."""
    for _ in range(0, days, step):
        clock_advance(delta=dt.timedelta(days=step))
        billing_task()
        if twice:
            billing_task()


def _assert_terms(subscription, count: int, *, first_start: dt.date):
    lines = _renewal_lines(subscription)
    assert len(lines) == count, [(line.period_start, line.period_end) for line in lines]
    months = 12 if subscription.billing_frequency == "yearly" else 1
    start = first_start
    for index, line in enumerate(lines):
        # Consecutive terms, each starting where the last ended: none skipped, none twice.
        assert line.period_start == start, (index, line.period_start, start)
        assert line.period_end == add_months(start, months)
        assert line.amount == line.unit_price * line.quantity * months
        start = line.period_end
    subscription.refresh_from_db()
    assert subscription.paid_through == start
    assert subscription.status == Status.ACTIVE


def test_fourteen_monthly_and_two_yearly_terms_are_each_billed_exactly_once(tenant):
    monthly = _subscription(tenant, days=1)
    yearly = _subscription(tenant, code="M365_E5", frequency="yearly", days=3)
    starts = (monthly.paid_through, yearly.paid_through)
    # 14 monthly terms start within the first 14 months; the second yearly one at month 12.
    _walk(13 * 31 + 10)
    _assert_terms(monthly, 14, first_start=starts[0])
    _assert_terms(yearly, 2, first_start=starts[1])
    invoices = Invoice.objects.filter(tenant=tenant)
    assert invoices.count() == 16
    assert not invoices.exclude(state=Invoice.State.PAID).exists()
    # Paid by the card on file, one payment per invoice, nothing negative.
    payments = Payment.objects.filter(tenant=tenant)
    assert payments.count() == 16 and not payments.filter(amount__lte=0).exists()
    assert AuditEvent.objects.filter(tenant=tenant, action="subscription.renew").count() == 16


def test_a_clock_moved_far_ahead_catches_up_one_term_per_invoice(tenant):
    monthly = _subscription(tenant, days=1)
    start = monthly.paid_through
    clock_advance(delta=dt.timedelta(days=14 * 31))
    assert renewals.subscriptions_renew()["renewed"] == 15
    assert renewals.subscriptions_renew() == {"renewed": 0, "unpaid": 0}
    _assert_terms(monthly, 15, first_start=start)


def test_the_database_refuses_a_second_charge_for_the_same_term(tenant):
    monthly = _subscription(tenant)
    line = Line(
        description="term",
        quantity=10,
        amount=Decimal("100.00"),
        subscription_id=monthly.pk,
        kind=LineKind.RENEWAL,
        period_start=monthly.paid_through,
        period_end=add_months(monthly.paid_through, 1),
    )
    lines_bill(tenant=tenant, lines=[line], payment_method="card")
    with pytest.raises(IntegrityError), transaction.atomic():
        lines_bill(tenant=tenant, lines=[line], payment_method="card")


@pytest.mark.django_db(transaction=True)
def test_two_workers_renewing_at_once_bill_each_term_once():
    catalog_ensure()
    tenant = TenantFactory()
    BillingProfileFactory(tenant=tenant)
    subscriptions = [_subscription(tenant, days=1) for _ in range(3)]
    starts = [s.paid_through for s in subscriptions]
    clock_advance(delta=dt.timedelta(days=13 * 31))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(renewals.subscriptions_renew())
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r["renewed"] for r in results) == 3 * 14
    for subscription, start in zip(subscriptions, starts, strict=True):
        _assert_terms(subscription, 14, first_start=start)
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 3 * 14


def test_addons_renew_with_their_base_on_one_invoice(tenant):
    base = _subscription(tenant, code="O365_E3")
    addon = SubscriptionFactory(
        tenant=tenant,
        product=product("ATP"),
        parent=base,
        quantity=4,
        paid_through=base.paid_through,
    )
    clock_advance(delta=dt.timedelta(days=1))
    assert renewals.subscriptions_renew()["renewed"] == 1
    (invoice,) = Invoice.objects.filter(tenant=tenant)
    assert {line.subscription_id for line in invoice.lines.all()} == {base.pk, addon.pk}
    first_end = add_months(base.paid_through, 1)
    addon.refresh_from_db()
    base.refresh_from_db()
    assert addon.paid_through == base.paid_through == first_end


def test_an_addon_of_a_base_that_is_not_active_expires_instead_of_renewing(tenant):
    base = _subscription(tenant, status=Status.EXPIRED, days=40)
    addon = SubscriptionFactory(
        tenant=tenant,
        product=product("ATP"),
        parent=base,
        quantity=4,
        paid_through=clock.today() + dt.timedelta(days=1),
    )
    clock_advance(delta=dt.timedelta(days=1))
    billing_task()
    addon.refresh_from_db()
    assert addon.status == Status.EXPIRED
    assert not InvoiceLine.objects.filter(subscription=addon).exists()


def test_recurring_billing_off_expires_at_the_paid_through_date_without_a_charge(tenant):
    subscription = _subscription(tenant, days=2, recurring_billing=False)
    clock_advance(delta=dt.timedelta(days=1))
    billing_task()
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    clock_advance(delta=dt.timedelta(days=1))
    billing_task()
    subscription.refresh_from_db()
    assert subscription.status == Status.EXPIRED
    assert subscription.status_history.last().reason == "paid period ended"
    assert not Invoice.objects.filter(tenant=tenant).exists()


def test_a_renewal_paid_by_invoice_is_issued_unpaid_and_due_in_thirty_days(tenant):
    subscription = _subscription(tenant, channel="direct_invoice")
    clock_advance(delta=dt.timedelta(days=1))
    assert renewals.subscriptions_renew() == {"renewed": 0, "unpaid": 1}
    (invoice,) = Invoice.objects.filter(tenant=tenant)
    assert invoice.state == Invoice.State.UNPAID
    assert invoice.due_date == clock.today() + dt.timedelta(days=30)
    assert invoice.amount_due == invoice.total > 0
    assert not Payment.objects.filter(tenant=tenant).exists()
    # No second term while this one is unpaid.
    clock_advance(delta=dt.timedelta(days=35))
    assert renewals.subscriptions_renew() == {"renewed": 0, "unpaid": 0}
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE


# --- A declined renewal ----------------------------------------------------------------------


@pytest.fixture
def declining(db):
    tenant = TenantFactory()
    BillingProfileFactory(tenant=tenant, card_token="tok_decline")
    subscription = _subscription(tenant, code="M365_BS", quantity=20)
    e4 = SubscriptionFactory(
        tenant=tenant, quantity=5, paid_through=clock.today() + dt.timedelta(days=200)
    )
    clock_advance(delta=dt.timedelta(days=1))
    billing_task()
    return tenant, subscription, e4


def test_a_declined_renewal_leaves_the_invoice_unpaid_with_pay_now_and_blocks_upgrades(
    declining, admin_for
):
    tenant, subscription, e4 = declining
    (invoice,) = Invoice.objects.filter(tenant=tenant)
    assert invoice.state == Invoice.State.UNPAID and invoice.amount_due == invoice.total
    assert Payment.objects.get(invoice=invoice).result == Payment.Result.DECLINED
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE  # users keep working during the grace period
    note = Notification.objects.filter(tenant=tenant).latest("pk")
    assert note.level == "error" and invoice.number in note.message and "declined" in note.message
    client, _ = admin_for(tenant, Role.BILLING_ADMIN)
    for page in (
        reverse("products", args=[tenant.slug]),
        reverse("subscription_detail", args=[tenant.slug, subscription.pk]),
        reverse("invoice_detail", args=[tenant.slug, invoice.pk]),
    ):
        html = client.get(page).content.decode()
        assert "Pay now" in html and invoice.number in html, page
    tab = client.get(reverse("upgrade_tab", args=[tenant.slug, e4.pk])).content.decode()
    assert "unpaid" in tab.lower()
    # Another try with the same card is declined again, recorded, and still unpaid.
    with pytest.raises(DomainError):
        invoice_pay(tenant=tenant, invoice_id=invoice.pk, actor=None)
    assert Payment.objects.filter(invoice=invoice, result="declined").count() == 2
    # With a working card, Pay now settles it and the subscription carries on.
    tenant.billing_profile.card_token = "tok_visa"
    tenant.billing_profile.save()
    response = client.post(reverse("invoice_pay", args=[tenant.slug, invoice.pk]))
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.PAID and invoice.amount_due == 0
    clock_advance(delta=dt.timedelta(days=31))
    billing_task()
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE
    assert len(_renewal_lines(subscription)) == 2


def test_a_declined_renewal_is_reminded_of_then_expires_after_the_grace_period(declining, settings):
    tenant, subscription, _ = declining
    settings.PORTAL_RENEWAL_GRACE_DAYS = 14
    settings.PORTAL_RENEWAL_REMINDER_DAYS = 3
    (invoice,) = Invoice.objects.filter(tenant=tenant)
    paid_before = _renewal_lines(subscription)[0].period_start
    for _ in range(14):
        clock_advance(delta=dt.timedelta(days=1))
        billing_task()
    subscription.refresh_from_db()
    assert subscription.status == Status.ACTIVE, "still within the grace period"
    invoice.refresh_from_db()
    assert invoice.reminders_sent == 4  # days 3, 6, 9 and 12
    reminders = Notification.objects.filter(
        tenant=tenant, message__contains='"billing.notify.renewal_reminder"'
    )
    assert reminders.count() == 4
    clock_advance(delta=dt.timedelta(days=1))
    billing_task()
    subscription.refresh_from_db()
    invoice.refresh_from_db()
    assert subscription.status == Status.EXPIRED
    assert subscription.status_history.last().reason == "renewal unpaid"
    # The unpaid term is cancelled by a credit note: nothing owed, nothing kept.
    assert invoice.state == Invoice.State.CREDITED and invoice.amount_due == 0
    assert subscription.paid_through == paid_before
    net = sum(line.amount for line in InvoiceLine.objects.filter(subscription=subscription))
    assert net == 0
    assert credit_balance(tenant=tenant) == 0
    # And it is not billed again: it expired.
    clock_advance(delta=dt.timedelta(days=40))
    billing_task()
    assert len(_renewal_lines(subscription)) == 1


# --- The credit balance pays renewals first --------------------------------------------------


def test_a_renewal_is_paid_from_the_credit_balance_before_the_card(tenant):
    subscription = _subscription(tenant, quantity=10)
    lines_bill(
        tenant=tenant,
        lines=[Line(description="credit", quantity=-1, amount=Decimal("-50.00"))],
        payment_method="card",
    )
    assert credit_balance(tenant=tenant) == Decimal("50.00")
    clock_advance(delta=dt.timedelta(days=1))
    renewals.subscriptions_renew()
    invoice = Invoice.objects.get(lines__kind=LineKind.RENEWAL)
    used = CreditEntry.objects.get(invoice=invoice)
    assert used.kind == CreditEntry.Kind.APPLIED and used.amount == Decimal("-50.00")
    payment = Payment.objects.get(invoice=invoice)
    assert payment.amount == invoice.total - Decimal("50.00")
    assert credit_balance(tenant=tenant) == 0
    assert subscription.pk in {line.subscription_id for line in invoice.lines.all()}


# --- Prices as paid --------------------------------------------------------------------------


def test_a_catalog_price_change_affects_new_terms_only(tenant):
    subscription = _subscription(tenant, quantity=10, days=10)
    price = Price.objects.get(product=subscription.product, currency=tenant.currency)
    old = price.monthly
    subscription.term_unit_price = old
    subscription.save()
    price.monthly = old + Decimal("5.00")
    price.save()
    # Within the current term: removing licenses credits the price this term was charged at.
    from billing.services import subscription_licenses_remove

    subscription_licenses_remove(
        tenant=tenant, actor=None, subscription_id=subscription.pk, count=2
    )
    credit = InvoiceLine.objects.get(subscription=subscription, kind=LineKind.CREDIT)
    assert credit.unit_price == old
    # The next term is charged at the new list price, and becomes the term's price.
    clock_advance(delta=dt.timedelta(days=10))
    renewals.subscriptions_renew()
    (renewal,) = _renewal_lines(subscription)
    assert renewal.unit_price == old + Decimal("5.00")
    assert renewal.amount == (old + Decimal("5.00")) * 8
    subscription.refresh_from_db()
    assert subscription.term_unit_price == old + Decimal("5.00")


def test_renewal_skips_what_it_does_not_bill_partner_trial_and_retired_plans(tenant):
    partner = _subscription(tenant, channel="partner")
    trial = _subscription(tenant, is_trial=True)
    retired = _subscription(tenant, code="O365_E4")
    clock_advance(delta=dt.timedelta(days=1))
    assert renewals.subscriptions_renew() == {"renewed": 0, "unpaid": 0}
    assert not Invoice.objects.filter(tenant=tenant).exists()
    billing_task()
    for subscription in (trial, retired):
        subscription.refresh_from_db()
        assert subscription.status == Status.EXPIRED
    assert Subscription.objects.get(pk=partner.pk).status == Status.ACTIVE


def test_support_sees_the_tenants_balance_and_unpaid_renewal(declining, support_client):
    tenant, _subscription, _ = declining
    (invoice,) = Invoice.objects.filter(tenant=tenant)
    page = support_client.get(reverse("support_tenant", args=[tenant.slug])).content.decode()
    assert invoice.number in page and "1 unpaid invoice." in page
