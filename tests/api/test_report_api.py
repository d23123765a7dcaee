"""The report of a finished run through the API: the JSON report (the page's content, the users
in a CSV it links) and the streamed CSV; 409 before the run has ended, 404 for another
tenant's run, readable while the tenant is locked."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse

from billing.models import Invoice
from portal.models import Role
from upgrades import engine
from upgrades.models import RunState, UpgradeRun

from ..upgrades.conftest import make_e4_tenant, place

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(settings):
    settings.PORTAL_UPGRADE_BATCH_SIZE = 4
    t = make_e4_tenant(users=10)
    run = place(t)
    assert engine.run_advance(run_id=run.pk) == RunState.COMPLETED
    return t, UpgradeRun.objects.get(pk=run.pk)


def test_the_report_gives_the_runs_summary_money_and_steps(api_for, finished):
    t, run = finished
    api = api_for(t.tenant, Role.GLOBAL_READER)

    response = api.get(f"upgrades/{run.pk}/report")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == run.pk and body["state"] == "completed"
    assert body["source"]["code"] == "O365_E4" and body["target"]["code"] == "O365_E5"
    assert body["placed_by"] == t.admin.get_username()
    assert body["users_moved"] == 10 and body["batches"] == 3 and body["moved_back"] is False
    invoice = Invoice.objects.get(order=run.order)
    assert [i["number"] for i in body["money"]["invoices"]] == [invoice.number]
    assert body["money"]["net"] == str(invoice.total)
    assert body["steps"][0]["from"] is None and body["steps"][-1]["to"] == "completed"
    assert body["users_csv_url"].endswith(f"/upgrades/{run.pk}/report.csv")
    assert body["report_url"].endswith(f"/runs/{run.pk}/report/")
    assert "users" not in body


def test_the_csv_streams_one_line_per_user(api_for, finished):
    t, run = finished
    api = api_for(t.tenant, Role.GLOBAL_READER)

    response = api.client.get(api.get(f"upgrades/{run.pk}/report").json()["users_csv_url"])

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 11
    assert sorted(r[1] for r in rows[1:]) == sorted(u.upn for u in t.users)


def test_a_run_that_has_not_ended_has_no_report_yet(api_for):
    t = make_e4_tenant(users=3)
    api = api_for(t.tenant, Role.GLOBAL_ADMIN)
    run = place(t)  # the tenant is locked now: the report is still answered

    report = api.get(f"upgrades/{run.pk}/report")
    download = api.get(f"upgrades/{run.pk}/report.csv")

    assert report.status_code == download.status_code == 409
    assert report.json()["code"] == download.json()["code"] == "run_not_finished"


def test_another_tenants_run_is_not_found(api_for, finished):
    _t, run = finished
    other = make_e4_tenant(users=1)
    api = api_for(other.tenant, Role.GLOBAL_ADMIN)

    assert api.get(f"upgrades/{run.pk}/report").status_code == 404
    assert api.get(f"upgrades/{run.pk}/report.csv").status_code == 404
    assert api.get(f"upgrades/{run.pk}/report.csv").json()["code"] == "not_found"
