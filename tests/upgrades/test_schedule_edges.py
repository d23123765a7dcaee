"""Edges of a scheduled upgrade found by trying to break it: a window past the source's paid
period, an add-on that renews before the window, a start racing an admin's write, extreme
dates, a support retry's timings, a tenant with an unknown time zone."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, Subscription
from billing.renewals import subscriptions_renew
from billing.services import subscription_licenses_remove
from portal import clock
from portal.errors import DomainError
from tests.factories import UserFactory
from tests.upgrades.conftest import (
    checkout,
    make_e4_tenant,
    place,
)
from upgrades import engine, services
from upgrades.checkout import snapshot_source_changed
from upgrades.estimate import samples_recent
from upgrades.models import RunState, UpgradeRun


def _window(days=0, hours=0) -> dt.datetime:
    return (clock.now() + dt.timedelta(days=days, hours=hours)).replace(second=0, microsecond=0)


def _schedule(t, when):
    cart = services.upgrade_checkout_window_set(cart=checkout(t), actor=t.admin, scheduled_for=when)
    return services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )


@pytest.mark.django_db
def test_a_window_on_or_after_the_day_the_source_is_paid_through_is_refused():
    t = make_e4_tenant(users=3)
    Subscription.objects.filter(pk=t.e4.pk).update(
        paid_through=clock.today() + dt.timedelta(days=5), recurring_billing=False
    )
    t.e4.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        _schedule(t, _window(days=10))
    assert refused.value.code == "window_after_paid_period"
    assert not UpgradeRun.objects.filter(tenant=t.tenant).exists()
    assert _schedule(t, _window(days=3)).state == RunState.SCHEDULED


@pytest.mark.django_db
def test_an_add_on_renewed_before_the_window_fails_the_start_with_nothing_charged():
    t = make_e4_tenant(users=4, addons=[("PHONE_SYSTEM", 4, 4)])  # E5 includes it: removed
    today = clock.today()
    Subscription.objects.filter(pk=t.e4.pk).update(paid_through=today + dt.timedelta(days=200))
    addon = t.addons["PHONE_SYSTEM"]
    Subscription.objects.filter(pk=addon.pk).update(
        paid_through=today + dt.timedelta(days=5),
        recurring_billing=True,
        billing_frequency="monthly",
    )
    t.e4.refresh_from_db()
    run = _schedule(t, _window(days=10))
    clock.clock_advance(delta=dt.timedelta(days=6))
    subscriptions_renew()  # the add-on's new month is charged
    invoices = Invoice.objects.filter(tenant=t.tenant).count()
    clock.clock_advance(delta=dt.timedelta(days=4, minutes=1))
    assert services.upgrade_runs_reconcile()["failed_at_start"] == 1
    run.refresh_from_db()
    assert run.state == RunState.FAILED
    assert "changed since this upgrade was scheduled" in run.failure_reason
    # The run charged nothing and took nothing of the renewed month.
    assert Invoice.objects.filter(tenant=t.tenant).count() == invoices
    addon.refresh_from_db()
    assert addon.status == "active"


@pytest.mark.django_db(transaction=True)
def test_the_start_waits_for_an_admin_write_on_the_source_and_sees_it(committed_catalog):
    t = make_e4_tenant(users=3, quantity=6)
    run = _schedule(t, _window(hours=2))
    clock.clock_advance(delta=dt.timedelta(hours=2, minutes=1))
    written, release, errors = threading.Event(), threading.Event(), []

    def admin_write():
        try:
            with transaction.atomic():
                subscription_licenses_remove(
                    tenant=t.tenant, actor=t.admin, subscription_id=t.e4.pk, count=3
                )
                written.set()
                release.wait(timeout=30)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def reconcile():
        try:
            services.upgrade_runs_reconcile()
        finally:
            connection.close()

    writer = threading.Thread(target=admin_write)
    writer.start()
    assert written.wait(timeout=30)
    starter = threading.Thread(target=reconcile)
    starter.start()
    starter.join(timeout=2)
    assert starter.is_alive()  # waiting on the source's row lock
    release.set()
    writer.join(timeout=30)
    starter.join(timeout=30)
    assert errors == []
    run.refresh_from_db()
    source = Subscription.objects.get(pk=t.e4.pk)
    # It saw the write: the frozen prices no longer apply, so it did not start on them.
    assert snapshot_source_changed(snapshot=run.order.snapshot, source=source)
    assert run.state == RunState.FAILED
    assert not Invoice.objects.filter(tenant=t.tenant, order=run.order).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "date", "time"),
    [("America/New_York", "9999-12-31", "23:30"), ("Asia/Tokyo", "0001-01-01", "00:30")],
)
def test_the_first_and_last_days_a_date_can_have_are_a_field_error(zone, date, time):
    t = make_e4_tenant(users=3)
    t.tenant.time_zone = zone
    t.tenant.save(update_fields=["time_zone"])
    cart = checkout(t)
    client = Client()
    client.force_login(t.admin)
    response = client.post(
        reverse("upgrade_checkout", args=[t.tenant.slug, cart.pk]),
        {"section": "when", "when": "window", "date": date, "time": time},
    )
    assert response.status_code == 400
    assert "Choose a day within the next 14 days." in response.content.decode()


@pytest.mark.django_db
def test_a_support_retry_is_measured_from_its_own_start():
    t = make_e4_tenant(users=5)
    run = place(t)
    while UpgradeRun.objects.get(pk=run.pk).state != RunState.REMOVING_ADDONS:
        engine.run_step(run_id=run.pk)
    with transaction.atomic():
        engine.run_fail(run=engine.run_lock(run.pk), reason="stopped responding")
    UpgradeRun.objects.filter(pk=run.pk).update(
        work_started_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    )
    support = UserFactory(username="support@test", is_staff=True)
    services.upgrade_retry(run=run, actor=support, reason="try again")
    run.refresh_from_db()
    assert run.work_started_at is None and run.move_finished_at is None
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    assert samples_recent()[0].fixed < 60


@pytest.mark.django_db
def test_the_console_lists_a_scheduled_run_of_a_tenant_with_an_unknown_time_zone():
    t = make_e4_tenant(users=3)
    t.tenant.time_zone = "Europe/Nowhere"
    t.tenant.save(update_fields=["time_zone"])
    _schedule(t, _window(days=2))
    client = Client()
    client.force_login(UserFactory(username="support@test", is_staff=True))
    page = client.get(reverse("support_console"))
    assert page.status_code == 200
    assert "(UTC)" in page.content.decode()
