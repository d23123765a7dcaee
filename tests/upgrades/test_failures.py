"""Failure paths of the upgrade run, driven through the engine in-process: a failure at any
step leaves the tenant as if the order had not been placed (licenses, add-ons, toggles and
money), support's retry starts over from provisioning with the frozen prices, a bug that
repeats fails the run in plain words, and a transient error never does."""

import datetime as dt
import socket
import threading
import time
from decimal import Decimal

import pytest
from django.db import OperationalError, transaction
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, Order, Payment, PaymentMethod, Status, Subscription
from billing.payments import card_charge, credit_balance, lines_bill
from billing.pricing import Line
from billing.services import subscription_reactivate
from licensing.models import LicenseAssignment
from portal.errors import DomainError
from portal.models import AdminLock, AuditEvent, Notification
from tests.factories import UserFactory
from tests.money import money_check
from upgrades import engine, services
from upgrades.models import RunState, UpgradeRun

from .conftest import checkout, make_e4_tenant, place
from .test_engine import ADDONS, users_holding_not_exactly_one

pytestmark = pytest.mark.django_db

STEPS_AFTER_PAYMENT = [
    RunState.PROVISIONING,
    RunState.MOVING_LICENSES,
    RunState.REMOVING_ADDONS,
    RunState.CANCELLING_SOURCE,
]


class Boom(RuntimeError):
    pass


def fail_at(monkeypatch, step, *, error=None, times=1, after=True):
    """Make `step` raise (after doing its work, so the work is rolled back with it) `times`
    times; a DomainError by default."""
    original = engine.STEP_HANDLERS[step]
    left = {"n": times}

    def handler(run):
        # Provisioning fails once the new plan is bought and paid (its second call).
        paid = run.new_subscription_id is not None
        outcome = original(run) if after else None
        if left["n"] > 0 and (step != RunState.PROVISIONING or paid):
            left["n"] -= 1
            raise error or DomainError("The simulated service refused.", code="injected")
        return outcome or original(run)

    monkeypatch.setitem(engine.STEP_HANDLERS, step, handler)


def before(t):
    """What a compensated failure must give back: every service's state and holders."""
    subs = Subscription.objects.filter(tenant=t.tenant).order_by("pk")
    return {
        "subscriptions": [
            (s.pk, s.status, s.paid_through, s.recurring_billing, s.parent_id, s.quantity)
            for s in subs
        ],
        "licenses": sorted(
            LicenseAssignment.objects.filter(tenant=t.tenant).values_list(
                "user_id", "subscription_id", "disabled_services"
            )
        ),
    }


def after_compensation(t, run):
    state = before(t)
    new_ids = set(
        Subscription.objects.filter(tenant=t.tenant, product=run.target).values_list(
            "pk", flat=True
        )
    )
    state["subscriptions"] = [row for row in state["subscriptions"] if row[0] not in new_ids]
    return state


@pytest.mark.parametrize("step", STEPS_AFTER_PAYMENT)
def test_a_failure_at_any_step_leaves_the_tenant_as_if_the_order_was_never_placed(
    monkeypatch, settings, step
):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 3
    t = make_e4_tenant(users=10, quantity=12, addons=ADDONS)
    LicenseAssignment.objects.filter(user=t.users[0], subscription=t.e4).update(
        disabled_services=["exchange", "teams"]
    )
    run = place(t)
    was = before(t)
    fail_at(monkeypatch, step)

    assert engine.run_advance(run_id=run.pk) == RunState.FAILED

    run.refresh_from_db()
    assert run.failed_step == step
    assert after_compensation(t, run) == was
    assert users_holding_not_exactly_one(t.tenant) == 0
    new = Subscription.objects.get(tenant=t.tenant, product=run.target)
    assert (new.status, new.recurring_billing) == (Status.DISABLED, False)
    assert not LicenseAssignment.objects.filter(subscription=new).exists()
    order = Order.objects.get(pk=run.order_id)
    assert order.state == Order.State.FAILED
    invoice, note = Invoice.objects.filter(order=order).order_by("pk")
    assert note.total == -invoice.total and note.state == Invoice.State.PAID
    money_check(run)
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    message = Notification.objects.filter(tenant=t.tenant, level="error").latest("pk").message
    assert "credited back in full" in message and "Office 365 E4" in message


@pytest.mark.parametrize("step", STEPS_AFTER_PAYMENT)
def test_retry_after_a_failure_at_any_step_completes_with_every_user_moved_once(
    monkeypatch, settings, step
):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 3
    t = make_e4_tenant(users=10, quantity=12, addons=ADDONS)
    run = place(t)
    frozen_total = run.order.total
    fail_at(monkeypatch, step)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    support = UserFactory(is_staff=True)

    run = services.upgrade_retry(run=run, actor=support, reason="fixed")

    assert run.state == RunState.PROVISIONING and run.new_subscription_id is None
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    assert (run.moved, run.total) == (10, 10)
    assert LicenseAssignment.objects.filter(subscription=run.new_subscription).count() == 10
    assert users_holding_not_exactly_one(t.tenant) == 0
    phone = Subscription.objects.get(pk=t.addons["PHONE_SYSTEM"].pk)
    storage = Subscription.objects.get(pk=t.addons["EXTRA_STORAGE"].pk)
    assert phone.status == Status.DISABLED and not phone.assignments.exists()
    assert storage.parent_id == run.new_subscription_id and storage.status == Status.ACTIVE
    # Billed once more at the frozen prices: a charge, a credit note, and the same charge.
    totals = [i.total for i in Invoice.objects.filter(order=run.order).order_by("pk")]
    assert totals == [frozen_total, -frozen_total, frozen_total]
    money_check(run)


def test_included_addons_end_their_paid_period_where_their_credit_starts():
    t = make_e4_tenant(users=4, addons=[("PHONE_SYSTEM", 4, 4)])
    run = place(t)
    credit_from = dt.date.fromisoformat(run.order.snapshot["credit_from"])
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    phone = Subscription.objects.get(pk=t.addons["PHONE_SYSTEM"].pk)
    assert phone.paid_through == credit_from
    money_check(run)
    # The refunded time cannot come back: the upgraded E4 is not reactivated (its users went to
    # E5), so neither is the add-on that needs it, and nothing is billed or credited again.
    invoices = Invoice.objects.filter(tenant=t.tenant).count()
    for subscription in (t.e4, phone):
        with pytest.raises(DomainError) as refused:
            subscription_reactivate(tenant=t.tenant, actor=t.admin, subscription_id=subscription.pk)
        assert refused.value.code in ("upgraded", "base_not_active")
    phone.refresh_from_db()
    assert phone.status != Status.ACTIVE and phone.paid_through == credit_from
    assert Invoice.objects.filter(tenant=t.tenant).count() == invoices


def test_a_failed_order_paid_by_invoice_cancels_its_unpaid_invoice():
    t = make_e4_tenant(users=300, quantity=300)
    t.tenant.billing_profile.invoice_eligible = True
    t.tenant.billing_profile.save()
    run = place(t, payment_method=PaymentMethod.INVOICE)
    assert engine.run_advance(run_id=run.pk) == RunState.AWAITING_CREDIT_CHECK
    services.upgrade_credit_check_decide(
        run=run, approve=True, actor=UserFactory(is_staff=True), reason="fine"
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        fail_at(monkeypatch, RunState.MOVING_LICENSES)
        assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    invoice, note = Invoice.objects.filter(order=run.order).order_by("pk")
    assert invoice.state == Invoice.State.CREDITED
    assert note.state == Invoice.State.PAID and note.total == -invoice.total
    assert not Invoice.objects.filter(tenant=t.tenant, state=Invoice.State.UNPAID).exists()
    money_check(run)


def test_a_bug_that_repeats_fails_the_run_in_plain_words_with_the_traceback_for_support(
    monkeypatch,
):
    t = make_e4_tenant(users=5, addons=ADDONS)
    run = place(t)
    fail_at(monkeypatch, RunState.REMOVING_ADDONS, error=Boom("list index out of range"), times=9)

    with pytest.raises(Boom):
        engine.run_advance(run_id=run.pk)  # the first time: tried again (by the task)
    run.refresh_from_db()
    assert run.state == RunState.REMOVING_ADDONS and run.error_count == 1
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED  # the same again: it stops

    run.refresh_from_db()
    assert run.failure_reason == engine.internal_error_reason()
    assert "Boom: list index out of range" in run.last_error and "Traceback" in run.last_error
    assert users_holding_not_exactly_one(t.tenant) == 0
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 5
    money_check(run)
    assert AuditEvent.objects.filter(action="upgrade.internal_error").exists()
    support = Client()
    support.force_login(UserFactory(is_staff=True))
    page = support.get(reverse("support_run", args=[run.pk])).content.decode()
    assert "list index out of range" in page
    admin = Client()
    admin.force_login(t.admin)
    status = admin.get(reverse("upgrade_status", args=[t.tenant.slug, run.pk])).content.decode()
    assert "support has been notified" in status and "list index" not in status


def test_a_transient_error_never_fails_the_run(monkeypatch):
    t = make_e4_tenant(users=5)
    run = place(t)
    fail_at(
        monkeypatch,
        RunState.MOVING_LICENSES,
        error=OperationalError("server closed the connection unexpectedly"),
        times=5,
    )
    for _ in range(5):
        with pytest.raises(OperationalError):
            engine.run_advance(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == RunState.MOVING_LICENSES and "server closed" in run.last_error
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    money_check(UpgradeRun.objects.get(pk=run.pk))


def test_one_success_resets_the_count_of_a_repeating_error(monkeypatch, settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 2
    t = make_e4_tenant(users=6)
    run = place(t)
    original = engine.STEP_HANDLERS[RunState.MOVING_LICENSES]
    calls = {"n": 0}

    def every_other_batch_fails(run):
        calls["n"] += 1
        if calls["n"] % 2:
            raise Boom("flaky")
        return original(run)

    monkeypatch.setitem(engine.STEP_HANDLERS, RunState.MOVING_LICENSES, every_other_batch_fails)
    for _ in range(10):
        try:
            if engine.run_advance(run_id=run.pk) == RunState.COMPLETED:
                break
        except Boom:
            continue
    run.refresh_from_db()
    assert run.state == RunState.COMPLETED


def test_the_source_gains_holders_the_order_cannot_cover_and_the_run_fails_before_paying():
    t = make_e4_tenant(users=4, quantity=6)
    run = place(t)
    from tests.factories import users_with_licenses

    users_with_licenses(t.e4, 2)  # 6 holders, and more arrive before provisioning
    from licensing.models import DirectoryUser

    extra = DirectoryUser.objects.create(tenant=t.tenant, upn="late@x.test", display_name="Late")
    Subscription.objects.filter(pk=t.e4.pk).update(quantity=7)
    LicenseAssignment.objects.create(
        tenant=t.tenant, user=extra, subscription=t.e4, assigned_at=t.e4.created_at
    )
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run.refresh_from_db()
    assert "7 users" in run.failure_reason
    assert not Invoice.objects.filter(order=run.order).exists()
    money_check(run)


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a hung broker)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    thread = threading.Thread(
        target=lambda: [held.append(server.accept()) for _ in range(8)], daemon=True
    )
    thread.start()
    yield server.getsockname()[1]
    for connection, _address in held:
        connection.close()
    server.close()


@pytest.mark.parametrize("broker", ["refusing", "silent"])
def test_place_order_answers_at_once_when_the_broker_is_down(
    request, settings, monkeypatch, django_capture_on_commit_callbacks, broker
):
    """A real send to a broker that refuses connections, or accepts them and never answers: the
    order is placed, the page answers within 2 s, and the run is marked for the reconciler,
    which sends it once the broker is back."""
    from config.celery import app

    port = 9 if broker == "refusing" else request.getfixturevalue("silent_port")
    t = make_e4_tenant(users=3)
    cart = checkout(t)
    client = Client()
    client.force_login(t.admin)
    sent = []
    # A fresh connection pool on the broken broker; the original pool comes back after. (Celery
    # 5.6 reads the Django setting, later versions the app's conf: set both.)
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setitem(app.conf, "broker_url", settings.CELERY_BROKER_URL)
    monkeypatch.setattr(app, "_pool", None)
    try:
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(
                reverse("upgrade_place", args=[t.tenant.slug, cart.pk]),
                {"idempotency_key": cart.checkout_token},
            )
        elapsed = time.monotonic() - started
        assert len(callbacks) == 1
    finally:
        app.pool.force_close_all()
    assert elapsed < 2, elapsed
    print(f"\nPlace order with the broker {broker}: answered in {elapsed:.2f} s")
    run = UpgradeRun.objects.get(tenant=t.tenant)
    assert response.status_code == 302
    assert response["Location"] == reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    assert run.state == RunState.PLACED
    assert AdminLock.objects.filter(tenant=t.tenant).exists()
    # The broker is back: the next reconciler pass sends the run at once.
    monkeypatch.setattr(services, "run_advance_send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.upgrade_runs_reconcile()["requeued"] == 1
    assert sent == [run.pk]


def test_a_credit_never_touches_the_card_even_when_it_would_decline():
    t = make_e4_tenant(users=2)
    t.tenant.billing_profile.card_token = "tok_decline"
    t.tenant.billing_profile.save()
    invoice = lines_bill(
        tenant=t.tenant,
        lines=[Line(description="credit", quantity=-1, amount=Decimal("-10.00"))],
        payment_method=PaymentMethod.CARD,
    )
    assert invoice.state == Invoice.State.PAID
    assert not Payment.objects.filter(tenant=t.tenant).exists()
    assert credit_balance(tenant=t.tenant) == Decimal("10.00")
    with pytest.raises(ValueError):
        card_charge(tenant=t.tenant, amount=Decimal("-10.00"), invoice=None)


def test_a_retry_that_fails_again_is_reversed_again_and_nothing_is_reversed_twice(monkeypatch):
    t = make_e4_tenant(users=6, addons=ADDONS)
    run = place(t)
    was = before(t)
    support = UserFactory(is_staff=True)
    fail_at(monkeypatch, RunState.REMOVING_ADDONS, times=2)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run = services.upgrade_retry(run=run, actor=support, reason="again")
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED

    run.refresh_from_db()
    assert after_compensation(t, run) == was
    invoices = list(Invoice.objects.filter(order=run.order).order_by("pk"))
    assert [i.total for i in invoices] == [run.order.total, -run.order.total] * 2
    descriptions = [str(line.description) for line in invoices[3].lines.all()]
    assert all(d.startswith("Reversed: ") and "Reversed: Reversed" not in d for d in descriptions)
    assert Subscription.objects.filter(tenant=t.tenant, product=run.target).count() == 2
    money_check(run)
    # Compensating once more finds nothing left to reverse.
    from billing.payments import order_reverse

    assert order_reverse(order=run.order, reason="again") is None


def test_an_order_whose_credits_exceeded_its_charge_takes_the_credit_back_on_failure(
    monkeypatch,
):
    """Yearly E4 with most of the year left, upgraded to monthly E5: the order put its excess
    credit on the tenant's account. Its failure takes that credit back, and says so."""
    today = dt.date.today()
    t = make_e4_tenant(
        users=4, billing_frequency="yearly", paid_through=today + dt.timedelta(days=330)
    )
    run = place(t, billing_frequency="monthly")
    assert run.order.total < 0
    fail_at(monkeypatch, RunState.MOVING_LICENSES)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    invoice, note = Invoice.objects.filter(order=run.order).order_by("pk")
    assert note.total == -invoice.total > 0 and note.state == Invoice.State.PAID
    message = Notification.objects.filter(tenant=t.tenant, level="error").latest("pk").message
    assert "taken back" in message and "credited back" not in message
    assert credit_balance(tenant=t.tenant) == 0
    assert not Payment.objects.filter(tenant=t.tenant).exists()
    money_check(run)


def test_credit_already_used_when_the_order_fails_is_charged_back_to_the_card(monkeypatch):
    """The order's excess credit paid another invoice before the run failed: what is left of
    the credit is taken back from the balance, and what was used is charged to the card."""
    today = dt.date.today()
    t = make_e4_tenant(
        users=4, billing_frequency="yearly", paid_through=today + dt.timedelta(days=330)
    )
    run = place(t, billing_frequency="monthly")
    fail_at(monkeypatch, RunState.MOVING_LICENSES)
    given = -run.order.total
    provision = engine.STEP_HANDLERS[RunState.PROVISIONING]

    def provision_then_spend(run_):
        bought = run_.new_subscription_id is None
        outcome = provision(run_)
        if bought:  # the order's credit is on the balance: another purchase uses some of it
            lines_bill(
                tenant=t.tenant,
                lines=[Line(description="other purchase", quantity=1, amount=Decimal("30.00"))],
                payment_method=PaymentMethod.CARD,
            )
        return outcome

    monkeypatch.setitem(engine.STEP_HANDLERS, RunState.PROVISIONING, provision_then_spend)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    assert credit_balance(tenant=t.tenant) == 0
    invoice, note = Invoice.objects.filter(order=run.order).order_by("pk")
    assert note.state == Invoice.State.PAID
    charged = Payment.objects.get(invoice=note)
    assert charged.amount == Decimal("30.00") and charged.result == "succeeded"
    assert given > 30
    money_check(run)


def test_retry_is_refused_once_the_tenant_changed_what_the_order_priced(monkeypatch):
    t = make_e4_tenant(users=4, quantity=6, addons=ADDONS)
    run = place(t)
    fail_at(monkeypatch, RunState.MOVING_LICENSES)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    # Unlocked again, the admin cancels the Phone System add-on (its own credit is paid).
    Subscription.objects.filter(pk=t.addons["PHONE_SYSTEM"].pk).update(status=Status.DISABLED)

    with pytest.raises(DomainError) as refused:
        services.upgrade_retry(run=run, actor=UserFactory(is_staff=True), reason="again")

    assert refused.value.code == "order_outdated"
    assert UpgradeRun.objects.get(pk=run.pk).state == RunState.FAILED
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()


def test_a_run_failed_before_failures_were_compensated_is_compensated_by_its_retry():
    """The state an older version left: users moved back, but the new plan kept and billed."""
    t = make_e4_tenant(users=4, addons=ADDONS)
    run = place(t)
    original = engine.run_compensate
    engine.run_step(run_id=run.pk)  # placed -> provisioning
    engine.run_step(run_id=run.pk)  # bought and paid
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(engine, "run_compensate", lambda run: (run.order, None))
        with transaction.atomic():
            locked = UpgradeRun.objects.select_for_update().get(pk=run.pk)
            engine.run_fail(run=locked, reason="old failure")
    bought = UpgradeRun.objects.get(pk=run.pk).new_subscription
    assert bought.status in (Status.PROVISIONING, Status.ACTIVE)

    run = services.upgrade_retry(run=run, actor=UserFactory(is_staff=True), reason="retry")

    bought.refresh_from_db()
    assert (bought.status, bought.recurring_billing) == (Status.DISABLED, False)
    assert engine.run_compensate is original
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    money_check(run)


def test_a_failure_that_cannot_be_compensated_does_not_stop_the_reconciler(
    monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_UPGRADE_MAX_ATTEMPTS = 0
    broken, fine = make_e4_tenant(users=3), make_e4_tenant(users=3)
    runs = [place(broken), place(fine)]
    UpgradeRun.objects.update(heartbeat_at=dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
    original = engine.run_compensate

    def compensate(run):
        if run.tenant_id == broken.tenant.pk:
            raise Boom("cannot compensate")
        return original(run)

    monkeypatch.setattr(engine, "run_compensate", compensate)
    with django_capture_on_commit_callbacks(execute=False):
        result = services.upgrade_runs_reconcile()

    assert result["failed"] == 1
    states = {r.tenant_id: r for r in UpgradeRun.objects.filter(pk__in=[r.pk for r in runs])}
    assert states[fine.tenant.pk].state == RunState.FAILED
    stuck = states[broken.tenant.pk]
    assert stuck.state == RunState.PLACED and "cannot compensate" in stuck.last_error
    assert stuck.attempts == 1  # counted, though failing it raised
    assert AdminLock.objects.filter(tenant=broken.tenant).exists()  # support sees it


def test_an_addon_changed_by_support_after_its_removal_is_left_as_it_is(monkeypatch):
    t = make_e4_tenant(users=4, addons=ADDONS)
    run = place(t)
    phone = t.addons["PHONE_SYSTEM"]
    while UpgradeRun.objects.get(pk=run.pk).state != RunState.CANCELLING_SOURCE:
        engine.run_step(run_id=run.pk)
    # Between two steps a support engineer (never locked) reactivates the removed add-on.
    Subscription.objects.filter(pk=phone.pk).update(status=Status.ACTIVE, recurring_billing=True)
    fail_at(monkeypatch, RunState.CANCELLING_SOURCE, after=False)

    assert engine.run_advance(run_id=run.pk) == RunState.FAILED

    phone.refresh_from_db()
    assert (phone.status, phone.recurring_billing) == (Status.ACTIVE, True)
    assert not phone.assignments.exists()  # its holders are not forced back on it
    assert AuditEvent.objects.filter(
        action="upgrade.addon_not_restored", target=f"subscription:{phone.pk}"
    ).exists()
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 4
