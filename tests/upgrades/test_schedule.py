"""Scheduling an upgrade in a maintenance window: choose it at checkout (tenant time, an hour to
14 days ahead, priced as of its day), place the order (nothing charged, locked or queued), the
reconciler starts it at the window and never before (simulated clock), the admins can cancel
(nothing charged, no lock) or move it (priced again) until then, and every admin page warns of
what would make it fail."""

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import CreditEntry, Invoice, Order, Payment
from billing.payments import invoice_create
from billing.pricing import Line
from portal import clock
from portal.errors import DomainError
from portal.formatting import money_text
from portal.models import AdminLock, AuditEvent, Notification, Role
from tests.factories import MembershipFactory, UserFactory, users_with_licenses
from upgrades import engine, services
from upgrades.forms import MaintenanceWindowForm
from upgrades.models import RunState, UpgradeCart, UpgradeRun

from .conftest import checkout, make_e4_tenant

pytestmark = pytest.mark.django_db

STOCKHOLM = "Europe/Stockholm"


# --- Helpers -----------------------------------------------------------------------------------


def window(*, hours: float = 0, days: float = 0) -> dt.datetime:
    """A moment this far from the clock's now, on the minute (as a form gives it)."""
    moment = clock.now() + dt.timedelta(hours=hours, days=days)
    return moment.replace(second=0, microsecond=0)


def schedule(t, when, **kwargs):
    """Cart -> checkout -> window -> Place order, as the pages do; returns the run."""
    cart = checkout(t, **kwargs)
    cart = services.upgrade_checkout_window_set(cart=cart, actor=t.admin, scheduled_for=when)
    return services.upgrade_place(
        tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
    )


def money_rows(tenant) -> dict:
    """Every billing row of the tenant that an order can create or change."""
    return {
        "invoices": list(Invoice.objects.filter(tenant=tenant).values()),
        "payments": list(Payment.objects.filter(invoice__tenant=tenant).values()),
        "credits": list(CreditEntry.objects.filter(tenant=tenant).values()),
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(name, t, pk):
    return reverse(name, args=[t.tenant.slug, pk])


def local_fields(moment: dt.datetime, zone: str) -> dict:
    local = moment.astimezone(ZoneInfo(zone))
    return {"date": local.date().isoformat(), "time": local.strftime("%H:%M")}


def tenant_in(zone: str, **kwargs):
    t = make_e4_tenant(**kwargs)
    t.tenant.time_zone = zone
    t.tenant.save(update_fields=["time_zone"])
    return t


# --- The window form ---------------------------------------------------------------------------


def test_the_form_reads_a_local_time_in_the_tenant_zone_and_stores_utc():
    form = MaintenanceWindowForm(
        {"when": "window", "date": "2031-01-15", "time": "22:30"}, zone=ZoneInfo(STOCKHOLM)
    )
    assert form.is_valid(), form.errors
    # Stockholm is UTC+1 in winter.
    assert form.cleaned_data["scheduled_for"] == dt.datetime(2031, 1, 15, 21, 30, tzinfo=dt.UTC)
    summer = MaintenanceWindowForm(
        {"when": "window", "date": "2031-07-15", "time": "22:30"}, zone=ZoneInfo(STOCKHOLM)
    )
    assert summer.is_valid()
    assert summer.cleaned_data["scheduled_for"] == dt.datetime(2031, 7, 15, 20, 30, tzinfo=dt.UTC)


def test_the_form_refuses_a_time_the_clocks_skip_and_bad_input():
    skipped = MaintenanceWindowForm(
        {"when": "window", "date": "2031-03-30", "time": "02:30"}, zone=ZoneInfo(STOCKHOLM)
    )
    assert not skipped.is_valid()
    assert "does not exist" in skipped.errors["time"][0]
    missing = MaintenanceWindowForm({"when": "window", "date": ""}, zone=ZoneInfo("UTC"))
    assert not missing.is_valid() and "date" in missing.errors and "time" in missing.errors
    garbage = MaintenanceWindowForm(
        {"when": "window", "date": "15/13/2031", "time": "25:99"}, zone=ZoneInfo("UTC")
    )
    assert not garbage.is_valid() and "date" in garbage.errors and "time" in garbage.errors
    now = MaintenanceWindowForm({"when": "now"}, zone=ZoneInfo("UTC"))
    assert now.is_valid() and now.cleaned_data["scheduled_for"] is None


# --- Checkout's window -------------------------------------------------------------------------


def test_a_window_too_soon_or_too_far_is_refused_and_changes_nothing():
    t = make_e4_tenant(users=4)
    cart = checkout(t)
    before = UpgradeCart.objects.filter(pk=cart.pk).values().get()

    with pytest.raises(DomainError) as soon:
        services.upgrade_checkout_window_set(
            cart=cart, actor=t.admin, scheduled_for=window(hours=0.9)
        )
    assert soon.value.code == "window_too_soon"
    with pytest.raises(DomainError) as far:
        services.upgrade_checkout_window_set(
            cart=cart, actor=t.admin, scheduled_for=window(days=14, hours=1)
        )
    assert far.value.code == "window_too_far"
    assert UpgradeCart.objects.filter(pk=cart.pk).values().get() == before


def test_a_window_freezes_the_prices_as_of_its_day_and_renews_the_token():
    t = make_e4_tenant(users=4)
    cart = checkout(t)
    now_snapshot, now_token = cart.snapshot, cart.checkout_token
    when = window(days=10)

    cart = services.upgrade_checkout_window_set(cart=cart, actor=t.admin, scheduled_for=when)

    day = when.astimezone(dt.UTC).date()
    assert cart.scheduled_for == when
    assert cart.checkout_token != now_token
    assert cart.snapshot["credit_from"] == day.isoformat()
    assert cart.snapshot["lines"][0]["period_start"] == day.isoformat()
    # Ten fewer days of the source's paid time are left to credit from the window's day.
    credit_now = Decimal(now_snapshot["lines"][1]["amount"])
    credit_then = Decimal(cart.snapshot["lines"][1]["amount"])
    assert credit_now < credit_then < 0
    assert Decimal(cart.snapshot["total"]) > Decimal(now_snapshot["total"])
    # Back to "now": priced as of today again.
    cart = services.upgrade_checkout_window_set(cart=cart, actor=t.admin, scheduled_for=None)
    assert cart.scheduled_for is None and cart.snapshot["total"] == now_snapshot["total"]


def test_checkout_page_chooses_a_window_in_the_tenant_zone_and_shows_it():
    t = tenant_in(STOCKHOLM, users=4)
    cart = checkout(t)
    client = signed_in(t.admin)
    checkout_url = url("upgrade_checkout", t, cart.pk)
    page = client.get(checkout_url).content.decode()
    assert 'id="when"' in page and "Time zone: Europe/Stockholm" in page
    when = window(days=3)

    response = client.post(
        checkout_url, {"section": "when", "when": "window", **local_fields(when, STOCKHOLM)}
    )

    assert response.status_code == 302
    cart.refresh_from_db()
    assert cart.scheduled_for == when
    page = client.get(checkout_url).content.decode()
    assert 'id="window-chosen"' in page
    assert services.window_words(when, time_zone=STOCKHOLM) in page
    # The local wall time, not UTC's (Stockholm is an hour or two ahead).
    assert services.window_words(when, time_zone="UTC") not in page


def test_checkout_page_shows_a_field_error_for_a_window_too_soon_and_changes_nothing():
    t = make_e4_tenant(users=4)
    cart = checkout(t)
    client = signed_in(t.admin)
    before = UpgradeCart.objects.filter(pk=cart.pk).values().get()

    response = client.post(
        url("upgrade_checkout", t, cart.pk),
        {"section": "when", "when": "window", **local_fields(window(hours=0.5), "UTC")},
    )

    assert response.status_code == 400
    assert "at least an hour from now" in response.content.decode()
    assert UpgradeCart.objects.filter(pk=cart.pk).values().get() == before


def test_choosing_a_window_is_for_purchasers_of_this_tenant_only():
    t = make_e4_tenant(users=4)
    other = make_e4_tenant(users=4)
    cart = checkout(t)
    reader = UserFactory()
    MembershipFactory(user=reader, tenant=t.tenant, role=Role.GLOBAL_READER)
    data = {"section": "when", "when": "window", **local_fields(window(days=2), "UTC")}

    assert signed_in(reader).post(url("upgrade_checkout", t, cart.pk), data).status_code == 403
    foreign = reverse("upgrade_checkout", args=[other.tenant.slug, cart.pk])
    assert signed_in(other.admin).post(foreign, data).status_code == 404
    cart.refresh_from_db()
    assert cart.scheduled_for is None


# --- Placing a scheduled order -----------------------------------------------------------------


def test_placing_with_a_window_charges_locks_and_queues_nothing(
    django_capture_on_commit_callbacks,
):
    t = make_e4_tenant(users=4)
    money = money_rows(t.tenant)
    when = window(days=2)

    with django_capture_on_commit_callbacks() as sent:
        run = schedule(t, when)

    assert run.state == RunState.SCHEDULED and run.scheduled_for == when
    assert set(run.step_times) == {RunState.SCHEDULED}
    assert run.order.state == Order.State.PLACED
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    assert sent == []
    assert money_rows(t.tenant) == money
    assert AuditEvent.objects.get(action="upgrade.place", tenant=t.tenant).data[
        "scheduled_for"
    ] == (when.isoformat())
    # The engine leaves a scheduled run alone, and the reconciler does not take it for stalled.
    assert engine.run_step(run_id=run.pk).stop
    UpgradeRun.objects.filter(pk=run.pk).update(heartbeat_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert services.upgrade_runs_reconcile()["requeued"] == 0
    run.refresh_from_db()
    assert run.state == RunState.SCHEDULED and run.attempts == 0


def test_a_scheduled_run_counts_as_the_tenants_one_active_run():
    t = make_e4_tenant(users=4)
    second = checkout(t, target="M365_E5")  # opened before the first was scheduled
    schedule(t, window(days=2))
    with pytest.raises(DomainError) as refused:
        services.upgrade_place(
            tenant=t.tenant, actor=t.admin, cart=second, idempotency_key=second.checkout_token
        )
    assert refused.value.code == "upgrade_in_progress"
    assert UpgradeRun.objects.filter(tenant=t.tenant).count() == 1


def test_a_window_that_became_too_soon_is_refused_at_place_order():
    t = make_e4_tenant(users=4)
    cart = checkout(t)
    cart = services.upgrade_checkout_window_set(
        cart=cart, actor=t.admin, scheduled_for=window(hours=1, days=0) + dt.timedelta(minutes=5)
    )
    clock.clock_advance(delta=dt.timedelta(minutes=10))
    with pytest.raises(DomainError) as refused:
        services.upgrade_place(
            tenant=t.tenant, actor=t.admin, cart=cart, idempotency_key=cart.checkout_token
        )
    assert refused.value.code == "window_too_soon"
    assert not UpgradeRun.objects.filter(tenant=t.tenant).exists()


# --- The start -----------------------------------------------------------------------------------


def test_the_reconciler_starts_a_run_at_its_window_and_not_before(
    django_capture_on_commit_callbacks,
):
    t = make_e4_tenant(users=4)
    run = schedule(t, window(hours=2))

    clock.clock_advance(delta=dt.timedelta(hours=2) - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks() as sent:
        result = services.upgrade_runs_reconcile()
    run.refresh_from_db()
    assert result["started"] == 0 and run.state == RunState.SCHEDULED and sent == []
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()

    clock.clock_advance(delta=dt.timedelta(minutes=2))
    with django_capture_on_commit_callbacks() as sent:
        result = services.upgrade_runs_reconcile()

    run.refresh_from_db()
    assert result["started"] == 1 and run.state == RunState.PLACED
    assert len(sent) == 1
    assert AdminLock.objects.get(tenant=t.tenant).holder == run
    assert RunState.SCHEDULED in run.step_times and RunState.PLACED in run.step_times
    # The worker takes it from there, with the prices frozen for the window's day.
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    assert run.new_subscription.paid_through > clock.today()
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    # Started once: a second pass finds nothing due.
    assert services.upgrade_runs_reconcile()["started"] == 0


def test_a_run_that_would_fail_at_its_window_fails_there_with_nothing_charged():
    # Waits on upgrades.plan.run_blockers (the holders-beyond-quantity blocker).
    t = make_e4_tenant(users=4, quantity=4)
    run = schedule(t, window(hours=2))
    money = money_rows(t.tenant)
    users_with_licenses(t.e4, 2)  # six users now hold E4: more than the four bought

    clock.clock_advance(delta=dt.timedelta(hours=2, minutes=1))
    result = services.upgrade_runs_reconcile()

    run.refresh_from_db()
    assert result["failed_at_start"] == 1 and result["started"] == 0
    assert run.state == RunState.FAILED
    assert "6 users now hold" in run.failure_reason
    assert run.order.state == Order.State.FAILED
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    assert money_rows(t.tenant) == money
    note = Notification.objects.filter(tenant=t.tenant).latest("pk")
    assert "Nothing was charged" in note.message


def test_an_unpaid_invoice_at_the_window_fails_the_run():
    # Waits on upgrades.plan.run_blockers (the unpaid-invoice blocker).
    t = make_e4_tenant(users=3)
    run = schedule(t, window(hours=2))
    invoice_create(  # due today, as a declined renewal's
        tenant=t.tenant,
        lines=[Line(description="Unpaid", quantity=1, amount=Decimal("10.00"))],
        due_days=0,
    )
    clock.clock_advance(delta=dt.timedelta(hours=2, minutes=1))

    assert services.upgrade_runs_reconcile()["failed_at_start"] == 1
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.failure_reason


# --- Cancel ------------------------------------------------------------------------------------


def test_cancelling_before_the_window_leaves_nothing_charged_and_no_lock():
    t = make_e4_tenant(users=4)
    run = schedule(t, window(hours=3))
    money = money_rows(t.tenant)
    client = signed_in(t.admin)

    response = client.post(url("upgrade_run_cancel", t, run.pk), {"reason": "wrong week"})

    assert response.status_code == 302
    run.refresh_from_db()
    assert run.state == RunState.CANCELLED and run.is_terminal
    assert run.order.state == Order.State.CANCELLED
    assert money_rows(t.tenant) == money
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()
    assert AuditEvent.objects.get(action="upgrade.cancel", tenant=t.tenant).reason == "wrong week"
    assert "was cancelled" in Notification.objects.filter(tenant=t.tenant).latest("pk").message
    # Nothing starts at the window any more, and the tenant may order again.
    clock.clock_advance(delta=dt.timedelta(hours=4))
    assert services.upgrade_runs_reconcile()["started"] == 0
    page = client.get(url("upgrade_status", t, run.pk)).content.decode()
    assert "Cancelled before its window" in page and "Nothing was charged" in page


def test_cancel_and_reschedule_are_refused_once_the_run_started():
    t = make_e4_tenant(users=4)
    run = schedule(t, window(hours=2))
    clock.clock_advance(delta=dt.timedelta(hours=2, minutes=1))
    services.upgrade_runs_reconcile()
    run.refresh_from_db()
    assert run.state == RunState.PLACED
    client = signed_in(t.admin)
    # The run holds the admin lock now: the pages are locked; the services say why.
    assert client.post(url("upgrade_run_cancel", t, run.pk)).status_code == 423
    AdminLock.objects.filter(tenant=t.tenant).delete()
    order_before = Order.objects.filter(pk=run.order_id).values().get()

    cancel = client.post(url("upgrade_run_cancel", t, run.pk))
    reschedule = client.post(
        url("upgrade_run_reschedule", t, run.pk),
        {"when": "window", **local_fields(window(days=2), "UTC")},
    )

    for response in (cancel, reschedule):
        assert response.status_code == 409
        assert "already started" in response.content.decode()
    run.refresh_from_db()
    assert run.state == RunState.PLACED
    assert Order.objects.filter(pk=run.order_id).values().get() == order_before


def test_cancel_and_reschedule_are_for_purchasers_of_the_tenant_only():
    t = make_e4_tenant(users=4)
    other = make_e4_tenant(users=4)
    run = schedule(t, window(days=2))
    reader = UserFactory()
    MembershipFactory(user=reader, tenant=t.tenant, role=Role.GLOBAL_READER)
    data = {"when": "window", **local_fields(window(days=3), "UTC")}

    for name in ("upgrade_run_cancel", "upgrade_run_reschedule"):
        assert signed_in(reader).post(url(name, t, run.pk), data).status_code == 403
        foreign = reverse(name, args=[other.tenant.slug, run.pk])
        assert signed_in(other.admin).post(foreign, data).status_code == 404
    assert signed_in(t.admin).get(url("upgrade_run_cancel", t, run.pk)).status_code == 405
    with pytest.raises(DomainError):
        services.upgrade_run_cancel(tenant=t.tenant, actor=reader, run_id=run.pk)
    with pytest.raises(DomainError) as foreign_run:
        services.upgrade_run_cancel(tenant=other.tenant, actor=other.admin, run_id=run.pk)
    assert foreign_run.value.code == "not_found"
    run.refresh_from_db()
    assert run.state == RunState.SCHEDULED


# --- Reschedule ----------------------------------------------------------------------------------


def test_rescheduling_to_another_day_prices_the_order_again_as_of_that_day():
    t = tenant_in(STOCKHOLM, users=4)
    run = schedule(t, window(days=2))
    first_total = run.order.total
    later = window(days=9)
    client = signed_in(t.admin)
    page = client.get(url("upgrade_run_reschedule", t, run.pk))
    assert page.status_code == 200 and "Europe/Stockholm" in page.content.decode()

    response = client.post(
        url("upgrade_run_reschedule", t, run.pk),
        {"when": "window", **local_fields(later, STOCKHOLM)},
        follow=True,
    )

    run.refresh_from_db()
    order = Order.objects.get(pk=run.order_id)
    day = later.astimezone(dt.UTC).date().isoformat()
    assert run.scheduled_for == later and run.state == RunState.SCHEDULED
    assert (
        order.snapshot["credit_from"] == day and order.snapshot["lines"][0]["period_start"] == day
    )
    assert order.total > first_total  # seven fewer days of E4 left to credit
    assert order.total == Decimal(order.snapshot["total"])
    assert money_text(order.total, "USD") in response.content.decode()
    assert AuditEvent.objects.filter(action="upgrade.reschedule", tenant=t.tenant).exists()
    assert not AdminLock.objects.filter(tenant=t.tenant).exists()


def test_rescheduling_within_the_same_day_keeps_the_prices():
    t = make_e4_tenant(users=4)
    first = window(days=3)
    run = schedule(t, first.replace(hour=9, minute=0))
    snapshot = run.order.snapshot

    run = services.upgrade_run_reschedule(
        tenant=t.tenant, actor=t.admin, run_id=run.pk, scheduled_for=first.replace(hour=17)
    )

    assert run.scheduled_for.hour == 17
    assert Order.objects.get(pk=run.order_id).snapshot == snapshot


def test_rescheduling_out_of_bounds_or_after_the_source_changed_changes_nothing():
    t = make_e4_tenant(users=4, quantity=6)
    run = schedule(t, window(days=2))
    order_before = Order.objects.filter(pk=run.order_id).values().get()
    client = signed_in(t.admin)

    too_far = client.post(
        url("upgrade_run_reschedule", t, run.pk),
        {"when": "window", **local_fields(window(days=15), "UTC")},
    )
    assert too_far.status_code == 400 and "within 14 days" in too_far.content.decode()

    t.e4.quantity = 5  # licenses removed after the order was placed
    t.e4.save(update_fields=["quantity"])
    changed = client.post(
        url("upgrade_run_reschedule", t, run.pk),
        {"when": "window", **local_fields(window(days=5), "UTC")},
    )
    assert changed.status_code == 409
    assert "Cancel this upgrade and start a new one" in changed.content.decode()
    run.refresh_from_db()
    assert run.state == RunState.SCHEDULED
    assert Order.objects.filter(pk=run.order_id).values().get() == order_before


# --- What the admins see -------------------------------------------------------------------------


def test_every_admin_page_shows_the_banner_with_the_local_start():
    t = tenant_in(STOCKHOLM, users=4)
    run = schedule(t, window(days=2))
    client = signed_in(t.admin)

    for page in (
        reverse("products", args=[t.tenant.slug]),
        reverse("users", args=[t.tenant.slug]),
        url("upgrade_tab", t, t.e4.pk),
    ):
        html = client.get(page).content.decode()
        banner = re.search(r'<div class="alert \w+" id="scheduled-upgrade-banner".*?</div>', html)
        assert banner, page
        text = banner.group(0)
        assert "Upgrade to Office 365 E5 scheduled for" in text and "(Europe/Stockholm)" in text
        assert "Admins will be locked out from then until it finishes" in text
        assert url("upgrade_status", t, run.pk) in text
        assert "schedule-warnings" not in text
    # Another tenant's admins see nothing of it.
    other = make_e4_tenant(users=2)
    html = signed_in(other.admin).get(reverse("products", args=[other.tenant.slug]))
    assert b"scheduled-upgrade-banner" not in html.content


def test_the_banner_warns_at_once_of_what_would_fail_the_run():
    # Waits on upgrades.plan.run_blockers.
    t = make_e4_tenant(users=4, quantity=4)
    schedule(t, window(days=2))
    users_with_licenses(t.e4, 2)
    invoice_create(  # due today, as a declined renewal's
        tenant=t.tenant,
        lines=[Line(description="Unpaid", quantity=1, amount=Decimal("10.00"))],
        due_days=0,
    )

    html = signed_in(t.admin).get(reverse("products", args=[t.tenant.slug])).content.decode()

    assert 'data-blocker="quantity_short"' in html
    assert "6 users now hold Office 365 E4 licenses, more than the 4" in html
    assert 'data-blocker="unpaid_invoice"' in html


def test_the_banner_costs_one_query_without_a_scheduled_run(django_assert_num_queries):
    from django.template import Context, Template
    from django.test import RequestFactory

    t = make_e4_tenant(users=2)
    template = Template("{% load upgrade_schedule %}{% scheduled_upgrade_banner %}")
    context = Context({"current_tenant": t.tenant, "request": RequestFactory().get("/")})
    with django_assert_num_queries(1):
        assert template.render(context) == ""


def test_status_page_and_tab_show_the_scheduled_upgrade_with_its_actions():
    t = tenant_in(STOCKHOLM, users=4)
    run = schedule(t, window(days=2))
    client = signed_in(t.admin)

    status = client.get(url("upgrade_status", t, run.pk)).content.decode()
    assert 'data-state="scheduled"' in status and ">Scheduled<" in status
    assert "Scheduled to start" in status and "(Europe/Stockholm)" in status
    assert url("upgrade_run_cancel", t, run.pk) in status
    assert url("upgrade_run_reschedule", t, run.pk) in status
    tab = client.get(url("upgrade_tab", t, t.e4.pk)).content.decode()
    assert 'id="scheduled-upgrade"' in tab and url("upgrade_run_reschedule", t, run.pk) in tab
    assert "An upgrade of this organisation is scheduled" in tab
    assert "Another upgrade on this organisation is running" not in tab
    # A reader sees it, without the actions.
    reader = UserFactory()
    MembershipFactory(user=reader, tenant=t.tenant, role=Role.GLOBAL_READER)
    seen = signed_in(reader).get(url("upgrade_status", t, run.pk)).content.decode()
    assert "Scheduled to start" in seen and url("upgrade_run_cancel", t, run.pk) not in seen


def test_reading_the_pages_of_a_scheduled_run_changes_nothing(support_client):
    from tests.test_admin_lock_services import database_digest

    t = make_e4_tenant(users=4)
    run = schedule(t, window(days=2))
    reader = UserFactory()
    MembershipFactory(user=reader, tenant=t.tenant, role=Role.GLOBAL_READER)
    pages = [
        url("upgrade_status", t, run.pk),
        url("upgrade_run_reschedule", t, run.pk),
        url("upgrade_tab", t, t.e4.pk),
        reverse("products", args=[t.tenant.slug]),
    ]
    clients = (
        ("admin", signed_in(t.admin)),
        ("reader", signed_in(reader)),
        ("support", support_client),
    )
    before = database_digest()  # signed in: signing in is a write of its own

    statuses = {
        (who, page): client.get(page).status_code for who, client in clients for page in pages
    }

    assert database_digest() == before
    assert statuses[("admin", pages[1])] == 200 and statuses[("reader", pages[1])] == 403
    assert statuses[("support", pages[0])] == 200


def test_the_status_poll_of_a_scheduled_run_stays_at_two_queries(client):
    from .test_status_poll import poll_queries

    t = tenant_in(STOCKHOLM, users=4)
    run = schedule(t, window(days=2))
    client.force_login(t.admin)

    response, queries = poll_queries(client, url("upgrade_status", t, run.pk))

    assert len(queries) <= 2, queries
    assert b"Scheduled to start" in response.content
    assert b"(Europe/Stockholm)" in response.content
