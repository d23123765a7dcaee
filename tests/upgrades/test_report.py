"""The report of a finished run: the printable page (summary, add-ons, money, steps, a sample
of the users) in a fixed number of queries, and the CSV of every user moved, streamed in
constant memory with one line per user."""

import csv
import io
import tracemalloc

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import Invoice
from licensing.models import DirectoryUser, LicenseAssignment
from portal.errors import DomainError
from portal.models import Role
from tests.factories import UserFactory
from upgrades import engine, services
from upgrades.models import RunState, UpgradeRun, UpgradeRunBatch
from upgrades.report import csv_cell, report_user_rows

from .conftest import make_e4_tenant, place

pytestmark = pytest.mark.django_db

HEADER = ["User", "Email", "Batch", "Batch time (UTC)", "From plan", "To plan", "Outcome"]


def finished_run(*, users=12, batch_size=5, settings=None, **tenant):
    if settings is not None:
        settings.PORTAL_UPGRADE_BATCH_SIZE = batch_size
    t = make_e4_tenant(users=users, **tenant)
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    run.refresh_from_db()
    return t, run


def report_url(t, run):
    return reverse("upgrade_report", args=[t.tenant.slug, run.pk])


def csv_url(t, run):
    return reverse("upgrade_report_csv", args=[t.tenant.slug, run.pk])


def csv_rows(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# --- The page ------------------------------------------------------------------------------


def test_the_report_of_a_completed_run_shows_what_it_did(client, settings):
    t, run = finished_run(users=12, batch_size=5, settings=settings)
    UpgradeRun.objects.filter(pk=run.pk).update(
        record={
            "removed_addons": [
                {"id": 1, "product": "PHONE_SYSTEM", "name": "Phone System", "holders": 8}
            ],
            "moved_addons": [
                {"id": 2, "product": "EXTRA_STORAGE", "name": "Extra File Storage", "holders": 0}
            ],
        }
    )
    client.force_login(t.admin)

    response = client.get(report_url(t, run))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-state="completed"' in page
    assert "Office 365 E5" in page and "Office 365 E4" in page
    assert '<dd id="report-users-moved">12' in page
    assert "in 3 batches" in page
    assert 'data-addon="PHONE_SYSTEM"' in page and "Removed: included in the new plan" in page
    assert 'data-addon="EXTRA_STORAGE"' in page and "Moved to the new plan" in page
    invoice = Invoice.objects.get(order=run.order)
    assert f'data-invoice="{invoice.number}"' in page
    # Every step with its actor: the placing admin, then the system.
    assert "Moving licenses" in page and t.admin.get_username() in page
    # A sample of the users, and the CSV and print actions.
    assert "User 000000" in page and "u0@" in page
    assert csv_url(t, run) in page
    assert f"{report_url(t, run)}?print=1" in page


def test_the_printable_report_has_no_navigation(client, settings):
    t, run = finished_run(users=3, settings=settings)
    client.force_login(t.admin)

    page = client.get(report_url(t, run), {"print": "1"}).content.decode()

    assert '<body class="print">' in page
    assert 'class="sidenav"' not in page
    assert "Amounts charged and credited" in page


def test_the_report_page_costs_the_same_queries_for_a_small_and_a_large_run(client, settings):
    counts = []
    for users in (4, 400):
        t, run = finished_run(users=users, batch_size=50, settings=settings)
        client.force_login(t.admin)
        client.get(report_url(t, run))  # the session's first request fills the cache
        with CaptureQueriesContext(connection) as queries:
            assert client.get(report_url(t, run)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts


def test_an_unfinished_run_has_no_report_yet(client):
    t = make_e4_tenant(users=3)
    run = place(t)
    client.force_login(t.admin)

    page = client.get(report_url(t, run))
    download = client.get(csv_url(t, run))

    status = reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    assert page.status_code == 302 and page["Location"] == status
    assert download.status_code == 302 and download["Location"] == status


def test_every_role_and_support_read_the_report_and_other_tenants_get_404(
    client, admin_for, settings
):
    t, run = finished_run(users=3, settings=settings)
    other, other_run = finished_run(users=3, settings=settings)
    reader, _user = admin_for(t.tenant, role=Role.GLOBAL_READER)
    support = UserFactory(is_staff=True)

    assert reader.get(report_url(t, run)).status_code == 200
    assert reader.get(csv_url(t, run)).status_code == 200
    client.force_login(support)
    assert client.get(report_url(t, run)).status_code == 200
    # Another tenant's run, under this tenant's name or its own.
    assert reader.get(report_url(t, other_run)).status_code == 404
    assert reader.get(csv_url(t, other_run)).status_code == 404
    assert reader.get(report_url(other, other_run)).status_code == 404
    assert reader.get(csv_url(other, other_run)).status_code == 404


def test_the_status_page_links_the_report_once_the_run_has_ended(client, settings):
    t = make_e4_tenant(users=3)
    run = place(t)
    client.force_login(t.admin)
    status = reverse("upgrade_status", args=[t.tenant.slug, run.pk])
    assert report_url(t, run).encode() not in client.get(status).content

    engine.run_advance(run_id=run.pk)

    assert report_url(t, run).encode() in client.get(status).content


# --- The CSV -------------------------------------------------------------------------------


def test_the_csv_has_a_header_and_one_line_per_user_with_its_batch(client, settings):
    t, run = finished_run(users=12, batch_size=5, settings=settings)
    client.force_login(t.admin)

    response = client.get(csv_url(t, run))

    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="upgrade-{run.pk}-users.csv"'
    rows = csv_rows(response)
    assert rows[0] == HEADER
    body = rows[1:]
    assert len(body) == 12
    assert sorted(r[1] for r in body) == sorted(u.upn for u in t.users)
    # Batches of 5: 5, 5, 2 users, each line with its batch's time in UTC.
    assert [sum(1 for r in body if r[2] == str(n)) for n in (1, 2, 3)] == [5, 5, 2]
    times = {b.number: b.at for b in UpgradeRunBatch.objects.filter(run=run)}
    assert all(r[3] == times[int(r[2])].isoformat() and r[3].endswith("+00:00") for r in body)
    assert {(r[4], r[5], r[6]) for r in body} == {("Office 365 E4", "Office 365 E5", "moved")}


def test_overlapping_batches_list_every_user_once_with_its_first_batch(settings):
    t, run = finished_run(users=9, batch_size=4, settings=settings)
    batches = list(UpgradeRunBatch.objects.filter(run=run).order_by("number"))
    # A sweep that restarted at 0 and a straggler batch that covers the last range again.
    UpgradeRunBatch.objects.create(
        run=run, number=4, after_id=0, last_id=batches[-1].last_id, moved=0, at=batches[-1].at
    )
    UpgradeRunBatch.objects.create(
        run=run,
        number=5,
        after_id=batches[1].after_id,
        last_id=batches[-1].last_id,
        moved=0,
        at=batches[-1].at,
    )

    rows = list(report_user_rows(run, page=2))

    assert sorted(r.email for r in rows) == sorted(u.upn for u in t.users)
    assert [r.batch for r in rows] == [1, 1, 1, 1, 2, 2, 2, 2, 3]


def test_a_license_given_later_to_the_new_plan_is_not_in_the_report(settings):
    t, run = finished_run(users=4, settings=settings)
    LicenseAssignment.objects.create(
        tenant=t.tenant,
        user=DirectoryUser.objects.create(tenant=t.tenant, upn="late@x.test", display_name="Late"),
        subscription=run.new_subscription,
        assigned_at=run.finished_at,
    )

    emails = [r.email for r in report_user_rows(run)]

    assert len(emails) == 4 and "late@x.test" not in emails


def test_a_failed_run_lists_the_users_it_moved_back(client, settings, monkeypatch):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 3
    t = make_e4_tenant(users=7)
    run = place(t)

    def refuse(run):
        raise DomainError("The simulated service refused.", code="injected")

    monkeypatch.setitem(engine.STEP_HANDLERS, RunState.REMOVING_ADDONS, refuse)
    assert engine.run_advance(run_id=run.pk) == RunState.FAILED
    client.force_login(t.admin)

    rows = csv_rows(client.get(csv_url(t, run)))[1:]
    page = client.get(report_url(t, run)).content.decode()

    assert len(rows) == 7 and {r[6] for r in rows} == {"moved back"}
    assert sorted(r[1] for r in rows) == sorted(u.upn for u in t.users)
    assert 'data-state="failed"' in page and "The simulated service refused." in page
    assert "Users moved and moved back" in page
    # The charge and its credit note are both shown.
    assert page.count("data-invoice=") == 2


def test_a_declined_run_has_a_report_with_no_user(client):
    t = make_e4_tenant(users=60)
    run = place(t, payment_method="invoice")
    assert engine.run_advance(run_id=run.pk) == RunState.AWAITING_CREDIT_CHECK
    services.upgrade_credit_check_decide(
        run=run, approve=False, actor=UserFactory(is_staff=True), reason="risk"
    )
    client.force_login(t.admin)

    page = client.get(report_url(t, run)).content.decode()
    rows = csv_rows(client.get(csv_url(t, run)))

    assert 'data-state="declined"' in page and "No user was moved." in page
    assert rows == [HEADER]


def test_cells_that_a_spreadsheet_would_run_are_quoted(client, settings):
    t, run = finished_run(users=2, settings=settings)
    t.users[0].display_name = '=HYPERLINK("http://evil")'
    t.users[0].save()
    t.users[1].display_name = "@SUM(1)"
    t.users[1].save()
    client.force_login(t.admin)

    names = {r[0] for r in csv_rows(client.get(csv_url(t, run)))[1:]}

    assert names == {'\'=HYPERLINK("http://evil")', "'@SUM(1)"}
    assert csv_cell("-1") == "'-1" and csv_cell("+1") == "'+1" and csv_cell("Ann") == "Ann"


# --- A large run ---------------------------------------------------------------------------


def _stream_peak(client, url) -> tuple[int, int]:
    """Consume the streamed CSV counting its lines; returns (lines, peak bytes allocated)."""
    response = client.get(url)
    assert isinstance(response, StreamingHttpResponse)
    lines = 0
    tracemalloc.start()
    try:
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return lines, peak


def test_the_csv_of_a_20000_user_run_streams_one_line_per_user_in_constant_memory(client, settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 5000
    # No credit check: the card pays at once, whatever the order's size.
    settings.PORTAL_CREDIT_CHECK_THRESHOLD = "1000000000.00"
    small, small_run = finished_run(users=2000)
    large, large_run = finished_run(users=20000)
    client.force_login(large.admin)

    rows = csv_rows(client.get(csv_url(large, large_run)))
    assert rows[0] == HEADER
    assert len(rows) == 20001
    assert len({r[1] for r in rows[1:]}) == 20000
    assert {r[1] for r in rows[1:]} == set(
        LicenseAssignment.objects.filter(subscription=large_run.new_subscription).values_list(
            "user__upn", flat=True
        )
    )

    # (The pass above warmed up what a first request allocates once.)
    large_lines, large_peak = _stream_peak(client, csv_url(large, large_run))
    client.force_login(small.admin)
    small_lines, small_peak = _stream_peak(client, csv_url(small, small_run))

    assert (small_lines, large_lines) == (2001, 20001)
    # Ten times the users, about the same memory: pages of rows, never the whole run.
    assert large_peak <= 1.5 * small_peak, (small_peak, large_peak)
