"""Rehearse this upgrade: what a run would do and what would stop it, computed by the engine's
own planning functions without changing anything, and proven equal to what the run then does.

Engine runs are driven in-process (engine.run_advance) with zero latency, as in test_engine."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import CreditCheck, Invoice, InvoiceLine, Product, Status, Subscription
from licensing.models import LicenseAssignment
from portal.errors import DomainError
from portal.models import Role, Tenant
from tests.factories import (
    MembershipFactory,
    SubscriptionFactory,
    UserFactory,
    product,
    users_with_licenses,
)
from upgrades import engine, plan, services
from upgrades.demo import demo_login, demo_seed
from upgrades.models import RunState, UpgradeRun, UpgradeRunBatch

from .conftest import access_of, checkout, make_e4_tenant, place

pytestmark = pytest.mark.django_db


def _overdue_invoice(tenant):
    now = timezone.now()
    invoice = Invoice.objects.create(
        tenant=tenant,
        number=f"INV-{tenant.slug}",
        currency=tenant.currency,
        issued_at=now - dt.timedelta(days=40),
        due_date=(now - dt.timedelta(days=10)).date(),
        amount_due="10.00",
    )
    InvoiceLine.objects.create(invoice=invoice, description="E4", amount="10.00")


def _codes(blockers) -> list[str]:
    return [b.code for b in blockers]


# --- run_blockers: a placed or scheduled run ---------------------------------------------------


def test_a_placed_run_with_nothing_in_its_way_has_no_blockers_and_completes():
    t = make_e4_tenant(users=5, addons=[("PHONE_SYSTEM", 5, 5), ("EXTRA_STORAGE", 10, 0)])
    run = place(t)

    assert plan.run_blockers(run=run) == []
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED


def test_more_holders_than_the_order_buys_is_the_failure_the_run_then_has():
    t = make_e4_tenant(users=4, quantity=5)
    run = place(t)
    Subscription.objects.filter(pk=t.e4.pk).update(quantity=7)
    users_with_licenses(t.e4, 3)  # 7 holders, the order buys 5

    blockers = plan.run_blockers(run=run)

    assert _codes(blockers) == ["quantity_short"]
    assert "7 users" in blockers[0].message and blockers[0].remedy
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run.refresh_from_db()
    assert (run.failed_step, run.failure_reason) == (RunState.PROVISIONING, blockers[0].message)


def test_a_declining_card_is_the_failure_the_run_then_has():
    t = make_e4_tenant(users=3, card_token="tok_decline")
    run = place(t)

    blockers = plan.run_blockers(run=run)

    assert _codes(blockers) == ["card_declined"]
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run.refresh_from_db()
    assert (run.failed_step, run.failure_reason) == (RunState.PROVISIONING, blockers[0].message)


def test_no_card_on_file_is_the_failure_the_run_then_has():
    t = make_e4_tenant(users=3, card_token="")
    run = place(t)

    blockers = plan.run_blockers(run=run)

    assert _codes(blockers) == ["no_card"]
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run.refresh_from_db()
    assert run.failure_reason == blockers[0].message


def test_an_order_whose_credits_exceed_its_charge_never_needs_the_card():
    today = dt.date.today()
    t = make_e4_tenant(
        users=4,
        card_token="tok_decline",
        billing_frequency="yearly",
        paid_through=today + dt.timedelta(days=330),
    )
    run = place(t, billing_frequency="monthly")
    assert run.order.total < 0

    assert plan.run_blockers(run=run) == []
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED


def test_an_addon_the_target_cannot_carry_is_the_failure_the_run_then_has():
    t = make_e4_tenant(users=3, source="O365_E1", addons=[("AUDIO_CONF", 3, 3)])
    run = place(t, target="M365_BP")
    SubscriptionFactory(
        tenant=t.tenant,
        product=product("CALLING_DOMESTIC"),
        parent=t.e4,
        quantity=3,
        paid_through=t.e4.paid_through,
        ready_at=timezone.now() - dt.timedelta(hours=1),
    )

    blockers = plan.run_blockers(run=run)

    assert _codes(blockers) == ["addon_not_carried"]
    assert product("CALLING_DOMESTIC").name in blockers[0].message
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run.refresh_from_db()
    assert (run.failed_step, run.failure_reason) == (RunState.REMOVING_ADDONS, blockers[0].message)


def test_an_overdue_invoice_and_a_seat_cap_are_reported():
    t = make_e4_tenant(users=3)
    run = place(t)
    _overdue_invoice(t.tenant)
    Product.objects.filter(pk=run.target_id).update(seat_cap=2)
    run = UpgradeRun.objects.select_related("target").get(pk=run.pk)

    blockers = plan.run_blockers(run=run)

    assert _codes(blockers) == ["seat_cap", "unpaid_invoice"]
    assert all(b.message and b.remedy for b in blockers)


def test_a_scheduled_run_is_checked_and_a_run_under_way_is_not():
    t = make_e4_tenant(users=3, card_token="tok_decline")
    run = place(t)
    UpgradeRun.objects.filter(pk=run.pk).update(state=RunState.SCHEDULED)
    run.refresh_from_db()
    assert _codes(plan.run_blockers(run=run)) == ["card_declined"]

    UpgradeRun.objects.filter(pk=run.pk).update(state=RunState.MOVING_LICENSES)
    run.refresh_from_db()
    assert plan.run_blockers(run=run) == []


def test_run_blockers_reads_the_same_number_of_rows_whatever_the_users():
    def queries(users):
        t = make_e4_tenant(users=users, addons=[("PHONE_SYSTEM", users, users)])
        run = UpgradeRun.objects.get(pk=place(t).pk)
        with CaptureQueriesContext(connection) as captured:
            plan.run_blockers(run=run)
        return len(captured)

    small, large = queries(5), queries(300)
    assert small == large <= 8


def test_the_run_records_the_addons_it_removed_and_moved_with_their_holders():
    t = make_e4_tenant(
        users=6,
        addons=[("PHONE_SYSTEM", 6, 4), ("CALLING_DOMESTIC", 6, 3), ("EXTRA_STORAGE", 50, 0)],
    )
    run = place(t)

    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED

    run.refresh_from_db()
    assert run.undo == {}
    assert run.record == {
        "removed_addons": [
            {"id": t.addons["PHONE_SYSTEM"].pk, "product": "PHONE_SYSTEM",
             "name": product("PHONE_SYSTEM").name, "holders": 4},
        ],
        "moved_addons": [
            {"id": t.addons["CALLING_DOMESTIC"].pk, "product": "CALLING_DOMESTIC",
             "name": product("CALLING_DOMESTIC").name, "holders": 3},
            {"id": t.addons["EXTRA_STORAGE"].pk, "product": "EXTRA_STORAGE",
             "name": product("EXTRA_STORAGE").name, "holders": 0},
        ],
    }  # fmt: skip


def test_a_failed_run_keeps_the_record_of_what_it_did_and_undid(monkeypatch):
    t = make_e4_tenant(users=4, addons=[("PHONE_SYSTEM", 4, 2)])
    run = place(t)

    def refuse(run):
        raise DomainError("The simulated service refused.", code="injected")

    monkeypatch.setitem(engine.STEP_HANDLERS, RunState.CANCELLING_SOURCE, refuse)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED

    run.refresh_from_db()
    assert run.undo == {}
    assert [a["holders"] for a in run.record["removed_addons"]] == [2]
    assert LicenseAssignment.objects.filter(subscription=t.addons["PHONE_SYSTEM"]).count() == 2


# --- Rehearsal of a cart equals reality ----------------------------------------------------------


def _line_facts(lines):
    return [
        (
            line.description,
            line.quantity,
            line.amount,
            line.kind,
            line.unit_price,
            line.period_start,
            line.period_end,
            line.subscription_id,
        )
        for line in lines
    ]


def _place_and_run(t, cart):
    """Place the cart's order and run it to its end in-process, deciding a credit check the
    way support approves one."""
    run = services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )
    state = engine.run_advance(run_id=run.pk)
    if state == RunState.AWAITING_CREDIT_CHECK:
        services.upgrade_credit_check_decide(
            run=run, approve=True, actor=UserFactory(is_staff=True), reason="rehearsed"
        )
        state = engine.run_advance(run_id=run.pk)
    run.refresh_from_db()
    return run, state


def _assert_rehearsal_came_true(rehearsal, run):
    new = run.new_subscription
    # Users: as many as rehearsed were moved, and the named ones first.
    assert run.moved == rehearsal.users
    assert LicenseAssignment.objects.filter(subscription_id=run.source_id).count() == 0
    sample_ids = [u["assignment_id"] for u in rehearsal.sample]
    assert len(sample_ids) == min(rehearsal.users, plan.SAMPLE_SIZE)
    assert LicenseAssignment.objects.filter(pk__in=sample_ids, subscription=new).count() == len(
        sample_ids
    )
    first = UpgradeRunBatch.objects.get(run=run, number=1)
    assert first.after_id < min(sample_ids) and max(sample_ids) <= first.last_id
    # Add-ons: removed and moved as rehearsed, with the holders rehearsed.
    assert run.record == rehearsal.addons.as_record()
    for addon in rehearsal.addons.removed:
        assert Subscription.objects.get(pk=addon.id).status == Status.DISABLED
    for addon in rehearsal.addons.moved:
        moved = Subscription.objects.get(pk=addon.id)
        assert moved.parent_id == new.pk
        assert LicenseAssignment.objects.filter(subscription=moved).count() == addon.holders
    # Money: the invoice has exactly the rehearsed lines (the charge on the new plan).
    invoice = Invoice.objects.get(order=run.order)
    expected = [rehearsal.lines[0].for_subscription(new.pk), *rehearsal.lines[1:]]
    assert _line_facts(invoice.lines.order_by("pk")) == _line_facts(expected)
    assert invoice.total == rehearsal.total == run.order.total
    assert CreditCheck.objects.filter(order=run.order).exists() == rehearsal.credit_check
    assert run.estimate["users"] == rehearsal.estimate.users


def test_rehearsal_equals_reality_on_the_demo_tenant():
    demo_seed(password="demo-password")
    tenant = Tenant.objects.get(slug="contoso")
    admin = get_user_model().objects.get(username=demo_login("contoso", Role.GLOBAL_ADMIN))
    e4 = Subscription.objects.get(tenant=tenant, product__code="O365_E4")
    t = SimpleNamespace(tenant=tenant, admin=admin, e4=e4)
    cart = services.upgrade_cart_create(access=access_of(t), source=e4, target_code="O365_E5")

    # From the cart (today's prices), then from checkout (the frozen ones): the same plan.
    from_cart = plan.cart_rehearse(access=access_of(t), cart=cart)
    cart = services.upgrade_checkout_open(cart=cart, actor=admin)
    rehearsal = plan.cart_rehearse(access=access_of(t), cart=cart)
    assert not from_cart.frozen and rehearsal.frozen
    assert _line_facts(from_cart.lines) == _line_facts(rehearsal.lines)
    assert (from_cart.users, from_cart.addons) == (rehearsal.users, rehearsal.addons)
    assert rehearsal.blockers == ()
    assert rehearsal.users == 300
    assert [a.product for a in rehearsal.addons.removed] == ["PHONE_SYSTEM", "AUDIO_CONF"]
    assert [(a.product, a.holders) for a in rehearsal.addons.moved] == [("EXTRA_STORAGE", 0)]

    run, state = _place_and_run(t, cart)

    assert state == RunState.COMPLETED
    _assert_rehearsal_came_true(rehearsal, run)


def test_rehearsal_equals_reality_on_a_5000_user_tenant_with_four_addons(settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 1000
    t = make_e4_tenant(
        users=5000,
        quantity=5200,
        addons=[
            ("PHONE_SYSTEM", 5000, 3000),
            ("AUDIO_CONF", 2000, 1500),
            ("CALLING_DOMESTIC", 1000, 800),
            ("EXTRA_STORAGE", 500, 0),
        ],
    )
    cart = checkout(t)
    rehearsal = plan.cart_rehearse(access=access_of(t), cart=cart)
    assert rehearsal.blockers == ()
    assert rehearsal.users == 5000
    assert [(a.product, a.holders) for a in rehearsal.addons.removed] == [
        ("PHONE_SYSTEM", 3000),
        ("AUDIO_CONF", 1500),
    ]
    assert [(a.product, a.holders) for a in rehearsal.addons.moved] == [
        ("CALLING_DOMESTIC", 800),
        ("EXTRA_STORAGE", 0),
    ]
    assert len(rehearsal.credits) == 3  # E4's unused time and the two removed add-ons'
    assert rehearsal.credit_check  # a charge above the threshold

    run, state = _place_and_run(t, cart)

    assert state == RunState.COMPLETED
    _assert_rehearsal_came_true(rehearsal, run)


def test_a_rehearsed_declining_card_is_the_failure_the_run_then_has():
    t = make_e4_tenant(users=5, addons=[("PHONE_SYSTEM", 5, 5)], card_token="tok_decline")
    cart = checkout(t)
    rehearsal = plan.cart_rehearse(access=access_of(t), cart=cart)
    assert _codes(rehearsal.blockers) == ["card_declined"]

    run, state = _place_and_run(t, cart)

    assert state == RunState.FAILED
    assert (run.failed_step, run.failure_reason) == (
        RunState.PROVISIONING,
        rehearsal.blockers[0].message,
    )


def test_place_order_refusals_are_rehearsed_with_what_to_do():
    t = make_e4_tenant(users=4, quantity=6)
    cart = checkout(t)
    _overdue_invoice(t.tenant)
    users_with_licenses(t.e4, 3)  # 7 holders: more than the cart's 6 licenses

    rehearsal = plan.cart_rehearse(access=access_of(t), cart=cart)

    codes = _codes(rehearsal.blockers)
    assert "unpaid_invoice" in codes and "quantity_below_assigned" in codes
    assert "quantity_short" not in codes  # the same fact, refused first by Place order
    assert all(b.remedy for b in rehearsal.blockers)
    with pytest.raises(DomainError):
        services.upgrade_place(
            tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
        )


# --- A rehearsal writes nothing ------------------------------------------------------------------


def _every_row():
    """Row counts of every model, and a digest of every table's rows (PostgreSQL)."""
    counts = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
    digests = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table == "django_session":
                continue  # signing the test client in is a write of its own
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "  # noqa: S608
                f'FROM "{table}" t'
            )
            digests[table] = cursor.fetchone()
    counts.pop("sessions.Session", None)
    return counts, digests


@pytest.mark.parametrize("prices", ["cart", "checkout"])
def test_a_rehearsal_writes_nothing(prices):
    t = make_e4_tenant(
        users=12,
        addons=[("PHONE_SYSTEM", 12, 5), ("EXTRA_STORAGE", 10, 0)],
        card_token="tok_decline",
    )
    cart = (
        checkout(t)
        if prices == "checkout"
        else services.upgrade_cart_create(access=access_of(t), source=t.e4, target_code="O365_E5")
    )
    _overdue_invoice(t.tenant)
    client = signed_in(t)
    was = _every_row()

    rehearsal = plan.cart_rehearse(access=access_of(t), cart=cart)
    response = client.get(rehearsal_url(t, cart))

    assert response.status_code == 200
    assert rehearsal.blockers  # it found what would fail, and still wrote nothing
    assert _every_row() == was


# --- The page ------------------------------------------------------------------------------------


def signed_in(t):
    client = Client()
    client.force_login(t.admin)
    return client


def rehearsal_url(t, cart):
    return reverse("upgrade_rehearsal", args=[t.tenant.slug, cart.pk])


def test_the_page_shows_the_users_addons_invoice_lock_window_and_way_back():
    t = make_e4_tenant(users=14, addons=[("PHONE_SYSTEM", 14, 6), ("CALLING_DOMESTIC", 14, 4)])
    cart = checkout(t)
    client = signed_in(t)

    html = client.get(rehearsal_url(t, cart)).content.decode()

    assert 'id="no-blockers"' in html
    assert "14 users move from Office 365 E4 to Office 365 E5" in html
    first = LicenseAssignment.objects.filter(subscription=t.e4).order_by("id").first().user
    assert first.display_name in html and first.upn in html
    assert html.count("<tr><td>User ") == 10  # the first ten, not all fourteen
    assert "its assignments to 6 users end" in html and 'data-addon="removed"' in html
    assert "with its 4 assigned users" in html and 'data-addon="moved"' in html
    assert "Credit: unused time of Office 365 E4" in html
    assert 'id="rehearsal-lock"' in html and "locked out of the admin center for about" in html
    assert "No credit check is needed." in html
    assert reverse("upgrade_checkout", args=[t.tenant.slug, cart.pk]) in html
    assert "Back to checkout" in html
    printable = client.get(rehearsal_url(t, cart) + "?print=1").content.decode()
    assert 'class="print"' in printable and "Back to checkout" not in printable


def test_the_page_lists_each_blocker_with_what_to_do():
    t = make_e4_tenant(users=3, card_token="tok_decline")
    cart = services.upgrade_cart_create(access=access_of(t), source=t.e4, target_code="O365_E5")
    _overdue_invoice(t.tenant)

    html = signed_in(t).get(rehearsal_url(t, cart)).content.decode()

    assert 'id="blockers"' in html
    assert 'data-blocker="unpaid_invoice"' in html and 'data-blocker="card_declined"' in html
    assert "Pay the balance, then try again." in html
    assert "Back to cart" in html and "Prices are today's" in html


def test_the_cart_and_checkout_offer_the_rehearsal():
    t = make_e4_tenant(users=3)
    cart = services.upgrade_cart_create(access=access_of(t), source=t.e4, target_code="O365_E5")
    client = signed_in(t)
    cart_html = client.get(reverse("upgrade_cart", args=[t.tenant.slug, cart.pk])).content
    checkout(t)  # a second cart of the same tenant, at checkout
    cart = services.upgrade_checkout_open(cart=cart, actor=t.admin)
    checkout_html = client.get(reverse("upgrade_checkout", args=[t.tenant.slug, cart.pk])).content
    for html in (cart_html.decode(), checkout_html.decode()):
        assert "Rehearse this upgrade" in html and rehearsal_url(t, cart) in html


def test_a_reader_is_refused_and_another_tenants_cart_does_not_exist():
    t = make_e4_tenant(users=3)
    cart = checkout(t)
    reader = UserFactory()
    MembershipFactory(user=reader, tenant=t.tenant, role=Role.GLOBAL_READER)
    other = make_e4_tenant(users=2)
    client = Client()
    client.force_login(reader)

    assert client.get(rehearsal_url(t, cart)).status_code == 403
    stranger = signed_in(other)
    assert stranger.get(rehearsal_url(t, cart)).status_code == 404
    assert stranger.get(rehearsal_url(other, cart)).status_code == 404


def test_a_placed_cart_goes_to_its_status_page():
    t = make_e4_tenant(users=3)
    run = place(t)
    engine.run_advance(run_id=run.pk)  # done: the admin center is unlocked again
    cart = run.order.upgrade_cart

    response = signed_in(t).get(rehearsal_url(t, cart))

    assert response.status_code == 302
    assert response["Location"] == reverse("upgrade_status", args=[t.tenant.slug, run.pk])


def test_the_page_reads_the_same_number_of_rows_whatever_the_users():
    def queries(users):
        t = make_e4_tenant(users=users, addons=[("PHONE_SYSTEM", users, users)])
        cart = checkout(t)
        client = signed_in(t)
        client.get(rehearsal_url(t, cart))  # warm the session
        with CaptureQueriesContext(connection) as captured:
            assert client.get(rehearsal_url(t, cart)).status_code == 200
        return len(captured)

    assert queries(50) == queries(500)
