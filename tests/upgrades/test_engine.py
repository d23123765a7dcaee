"""The upgrade run, driven by calling the engine directly (no Celery)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import CreditCheck, Invoice, Order, Payment, Status, Subscription
from licensing.models import LicenseAssignment
from portal import clock
from portal.errors import DomainError
from portal.models import AdminLock, AuditEvent, Notification
from tests.factories import UserFactory
from upgrades import engine, services
from upgrades.models import RunState, UpgradeRun
from upgrades.transitions import run_transition

from .conftest import make_e4_tenant, place

pytestmark = pytest.mark.django_db

ADDONS = [("PHONE_SYSTEM", 8, 8), ("AUDIO_CONF", 6, 6), ("EXTRA_STORAGE", 100, 0)]


def users_holding_not_exactly_one(tenant, codes=("O365_E4", "O365_E5")) -> int:
    from django.db.models import Count, Q

    from licensing.models import DirectoryUser

    return (
        DirectoryUser.objects.filter(tenant=tenant)
        .annotate(n=Count("licenses", filter=Q(licenses__subscription__product__code__in=codes)))
        .exclude(n=1)
        .count()
    )


def test_e4_with_addons_upgrades_to_office_365_e5_end_to_end():
    t = make_e4_tenant(users=40, quantity=45, addons=ADDONS)
    run = place(t)
    assert AdminLock.objects.get(tenant=t.tenant).holder == run

    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED

    run.refresh_from_db()
    e5 = run.new_subscription
    assert e5.product.code == "O365_E5" and e5.status == Status.ACTIVE and e5.quantity == 45
    # Every user holds one E5 license and no E4 license.
    assert LicenseAssignment.objects.filter(subscription=e5).count() == 40
    assert not LicenseAssignment.objects.filter(subscription=t.e4).exists()
    assert users_holding_not_exactly_one(t.tenant, codes=("O365_E5",)) == 0
    assert users_holding_not_exactly_one(t.tenant) == 0
    # Phone System and Audio Conferencing are gone; Extra File Storage hangs under E5.
    phone, audio, storage = (
        Subscription.objects.get(pk=t.addons[c].pk)
        for c in ("PHONE_SYSTEM", "AUDIO_CONF", "EXTRA_STORAGE")
    )
    assert phone.status == audio.status == Status.DISABLED
    assert not LicenseAssignment.objects.filter(subscription__in=[phone, audio]).exists()
    assert storage.parent_id == e5.pk and storage.status == Status.ACTIVE
    # E4 is Expired (data kept), the lock is released.
    t.e4.refresh_from_db()
    assert t.e4.status == Status.EXPIRED
    # Its unused time was credited, so it is paid through today: reactivating bills anew.
    assert t.e4.paid_through <= clock.today()
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    # The invoice carries the prorated credit for E4 and for the removed add-ons.
    invoice = Invoice.objects.get(order=run.order)
    amounts = {line.description: line.amount for line in invoice.lines.all()}
    e4_credit = next(a for d, a in amounts.items() if "Office 365 E4" in d)
    assert e4_credit < 0
    assert sum(1 for a in amounts.values() if a < 0) == 3
    assert invoice.total == run.order.total
    assert invoice.state == Invoice.State.PAID
    assert Order.objects.get(pk=run.order_id).state == Order.State.COMPLETED
    assert run.moved == run.total == 40
    assert Notification.objects.filter(tenant=t.tenant, level="success").exists()
    steps = list(run.events.values_list("to_state", flat=True))
    assert steps == [
        "placed",
        "provisioning",
        "moving_licenses",
        "removing_addons",
        "cancelling_source",
        "completed",
    ]


def test_per_user_service_toggles_are_reset_to_the_full_set_of_the_new_plan():
    t = make_e4_tenant(users=3)
    LicenseAssignment.objects.filter(subscription=t.e4).update(disabled_services=["teams"])
    run = place(t)
    engine.run_advance(run_id=run.pk)
    toggles = list(
        LicenseAssignment.objects.filter(tenant=t.tenant).values_list(
            "disabled_services", flat=True
        )
    )
    assert toggles == [[], [], []]


def test_moving_happens_in_batches_with_progress_stored(settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 7
    t = make_e4_tenant(users=20)
    run = place(t)
    for _ in range(3):  # placed -> provisioning (create + bill) -> activate -> moving
        engine.run_step(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == RunState.MOVING_LICENSES and run.total == 20 and run.moved == 0
    progress = []
    for _ in range(3):
        engine.run_step(run_id=run.pk)
        run.refresh_from_db()
        progress.append(run.moved)
        assert users_holding_not_exactly_one(t.tenant) == 0
    assert progress == [7, 14, 20]


def test_a_step_run_twice_has_no_double_effect():
    t = make_e4_tenant(users=5)
    run = place(t)
    engine.run_step(run_id=run.pk)  # placed -> provisioning
    engine.run_step(run_id=run.pk)  # subscription created and billed
    engine.run_step(run_id=run.pk)  # second call: activates, does not buy again
    assert Subscription.objects.filter(tenant=t.tenant, product__code="O365_E5").count() == 1
    assert Invoice.objects.filter(order=run.order).count() == 1
    assert Payment.objects.filter(tenant=t.tenant).count() == 1
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    assert Invoice.objects.filter(order=run.order).count() == 1


def test_declining_card_fails_the_run_before_anything_changes():
    t = make_e4_tenant(users=6, addons=ADDONS, card_token="tok_decline")
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    run.refresh_from_db()
    assert run.failed_step == RunState.PROVISIONING
    assert "declined" in run.failure_reason
    assert run.new_subscription is None
    assert not Subscription.objects.filter(tenant=t.tenant, product__code="O365_E5").exists()
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 6
    assert Subscription.objects.get(pk=t.addons["PHONE_SYSTEM"].pk).status == Status.ACTIVE
    assert not Invoice.objects.filter(order=run.order).exists()
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    assert Order.objects.get(pk=run.order_id).state == Order.State.FAILED
    assert Notification.objects.filter(tenant=t.tenant, level="error").exists()


def test_failure_after_some_users_moved_puts_everyone_back_on_e4(settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 4
    t = make_e4_tenant(users=10, addons=[("EXTRA_STORAGE", 10, 0)])
    run = place(t)
    for _ in range(5):
        engine.run_step(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == RunState.MOVING_LICENSES and 0 < run.moved < 10
    # A Phone System add-on appears behind the run's back (it would be removed: included in
    # E5), and the catalog stops letting E5 carry Extra File Storage: the add-on step fails
    # as a whole, and the users already moved go back.
    from billing.models import Product
    from tests.factories import SubscriptionFactory, product

    bad = SubscriptionFactory(tenant=t.tenant, product=product("PHONE_SYSTEM"), parent=t.e4)
    e5 = Product.objects.get(code="O365_E5")
    e5.accepts.remove(Product.objects.get(code="EXTRA_STORAGE"))
    try:
        assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    finally:
        e5.accepts.add(Product.objects.get(code="EXTRA_STORAGE"))
    run.refresh_from_db()
    assert run.failed_step == RunState.REMOVING_ADDONS
    assert "Extra File Storage" in run.failure_reason
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 10
    assert not LicenseAssignment.objects.filter(subscription=run.new_subscription).exists()
    assert users_holding_not_exactly_one(t.tenant) == 0
    assert Subscription.objects.get(pk=bad.pk).status == Status.ACTIVE
    assert Subscription.objects.get(pk=t.addons["EXTRA_STORAGE"].pk).parent_id == t.e4.pk
    t.e4.refresh_from_db()
    assert t.e4.status == Status.ACTIVE
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()


def test_support_retries_a_failed_run_from_the_failed_step():
    t = make_e4_tenant(users=4, card_token="tok_decline")
    run = place(t)
    engine.run_advance(run_id=run.pk)
    profile = t.tenant.billing_profile
    profile.card_token = "tok_visa"
    profile.save()
    support = UserFactory(is_staff=True)

    run = services.upgrade_retry(run=run, actor=support, reason="card updated")

    assert run.state == RunState.PROVISIONING
    assert AdminLock.objects.filter(tenant=t.tenant).exists()
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    assert LicenseAssignment.objects.filter(subscription__product__code="O365_E5").count() == 4
    assert AuditEvent.objects.filter(action="upgrade.retry", reason="card updated").exists()
    with pytest.raises(DomainError):
        services.upgrade_retry(run=run, actor=support, reason="again")


def test_invoice_order_waits_for_a_credit_check_and_runs_once_approved():
    t = make_e4_tenant(users=60)
    run = place(t, payment_method="invoice")
    assert run.order.payment_method == "invoice"
    assert engine.run_advance(run_id=run.pk) == RunState.AWAITING_CREDIT_CHECK
    check = CreditCheck.objects.get(order=run.order)
    assert check.state == CreditCheck.State.PENDING
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 60
    assert not Invoice.objects.filter(order=run.order).exists()
    with pytest.raises(DomainError):
        services.upgrade_credit_check_decide(run=run, approve=True, actor=t.admin, reason="x")

    support = UserFactory(is_staff=True)
    services.upgrade_credit_check_decide(run=run, approve=True, actor=support, reason="ok")

    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    invoice = Invoice.objects.get(order=run.order)
    assert invoice.state == Invoice.State.UNPAID  # paid by invoice, later


def test_declined_credit_check_charges_nothing_and_releases_the_lock():
    t = make_e4_tenant(users=60)
    run = place(t, payment_method="invoice")
    engine.run_advance(run_id=run.pk)
    support = UserFactory(is_staff=True)

    services.upgrade_credit_check_decide(run=run, approve=False, actor=support, reason="risk")

    run.refresh_from_db()
    assert run.state == RunState.DECLINED
    assert not Invoice.objects.filter(order=run.order).exists()
    assert not Payment.objects.filter(tenant=t.tenant).exists()
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 60


@pytest.mark.parametrize("default,expected", [("approve", "provisioning"), ("decline", "declined")])
def test_credit_check_default_applies_at_the_two_business_day_deadline(
    settings, django_capture_on_commit_callbacks, default, expected
):
    settings.PORTAL_CREDIT_CHECK_DEFAULT = default
    t = make_e4_tenant(users=60)
    run = place(t, payment_method="invoice")
    engine.run_advance(run_id=run.pk)
    services.upgrade_runs_reconcile()
    run.refresh_from_db()
    assert run.state == RunState.AWAITING_CREDIT_CHECK  # not yet due

    clock.clock_advance(delta=dt.timedelta(days=5))
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.upgrade_runs_reconcile()

    run.refresh_from_db()
    assert result["credit_checks"] == 1
    assert run.state == expected
    assert len(callbacks) == (1 if default == "approve" else 0)


def test_reconciler_requeues_runs_whose_heartbeat_stopped(
    settings, django_capture_on_commit_callbacks
):
    t = make_e4_tenant(users=3)
    run = place(t)
    UpgradeRun.objects.filter(pk=run.pk).update(
        heartbeat_at=run.heartbeat_at - dt.timedelta(minutes=10)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.upgrade_runs_reconcile()
    assert result["requeued"] == 1 and len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.upgrade_runs_reconcile()["requeued"] == 0  # heartbeat renewed
    assert callbacks == []


def test_reconciler_fails_a_run_that_keeps_stopping(settings):
    settings.PORTAL_UPGRADE_MAX_ATTEMPTS = 2
    t = make_e4_tenant(users=3)
    run = place(t)
    for _ in range(3):
        UpgradeRun.objects.filter(pk=run.pk).update(
            heartbeat_at=run.heartbeat_at - dt.timedelta(minutes=10)
        )
        services.upgrade_runs_reconcile()
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.failed_step == RunState.PLACED
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()


def test_database_allows_one_active_run_per_tenant():
    t = make_e4_tenant(users=2)
    run = place(t)
    with pytest.raises(IntegrityError), transaction.atomic():
        UpgradeRun.objects.create(
            tenant=t.tenant,
            source=t.e4,
            target=run.target,
            order=Order.objects.create(
                tenant=t.tenant,
                kind="upgrade",
                idempotency_key="other",
                currency="USD",
                total=Decimal("1"),
                payment_method="card",
                placed_at=run.placed_at,
            ),
            placed_at=run.placed_at,
            heartbeat_at=run.heartbeat_at,
        )


def test_transition_table_rejects_illegal_moves():
    t = make_e4_tenant(users=2)
    run = place(t)
    with pytest.raises(DomainError):
        run_transition(run=run, to=RunState.COMPLETED)
    with pytest.raises(DomainError):
        run_transition(run=run, to=RunState.MOVING_LICENSES)


def test_users_keep_e4_until_the_moving_step():
    t = make_e4_tenant(users=5)
    run = place(t)
    engine.run_step(run_id=run.pk)
    engine.run_step(run_id=run.pk)
    assert LicenseAssignment.objects.filter(subscription=t.e4).count() == 5
    run.refresh_from_db()
    assert run.state == RunState.PROVISIONING and run.new_subscription is not None


def test_provisioning_waits_for_the_new_subscription_to_be_set_up(settings):
    settings.PORTAL_PROVISIONING_DELAY_SECONDS = 3600
    t = make_e4_tenant(users=2)
    run = place(t)
    engine.run_step(run_id=run.pk)
    engine.run_step(run_id=run.pk)
    outcome = engine.run_step(run_id=run.pk)
    assert outcome.state == RunState.PROVISIONING and 0 < outcome.sleep <= 1.0
    assert run.__class__.objects.get(pk=run.pk).new_subscription.status == Status.PROVISIONING
    clock.clock_advance(delta=dt.timedelta(hours=2))
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
