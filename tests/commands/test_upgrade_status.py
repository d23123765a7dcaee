import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from upgrades import engine
from upgrades.models import UpgradeRun

from ..support.conftest import place, upgrade_tenant

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command("upgrade_status", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_prints_a_runs_state_progress_and_timeline():
    t = upgrade_tenant(users=4)
    run = place(t)
    engine.run_advance(run_id=run.pk)

    out = _run("--tenant", t.tenant.slug, str(run.pk))

    assert f"Upgrade run #{run.pk}" in out
    assert "  state: Completed\n" in out
    assert "4/4 users moved (100%)" in out
    assert "Order placed -> Buying the new plan" in out
    assert "Cancelling the old plan -> Completed" in out
    # The codes are for --json: a person reads the labels.
    assert "completed" not in out and "provisioning" not in out


def test_it_prints_the_failure_at_the_steps_label():
    t = upgrade_tenant(users=2, card_token="tok_decline")
    run = place(t)
    engine.run_advance(run_id=run.pk)

    out = _run("--tenant", t.tenant.slug, str(run.pk))

    assert "failed at Buying the new plan" in out
    assert "state: Failed" in out


def test_the_list_shows_state_labels_and_dates_in_the_tenants_time_zone():
    t = upgrade_tenant(users=1)
    t.tenant.time_zone = "America/Los_Angeles"
    t.tenant.save()
    run = place(t)
    UpgradeRun.objects.filter(pk=run.pk).update(
        placed_at=dt.datetime(2026, 12, 4, 22, 38, tzinfo=dt.UTC)
    )

    lines = _run("--tenant", t.tenant.slug).splitlines()

    assert lines[0].endswith("newest first; times in America/Los_Angeles:")
    assert lines[1].split() == [
        f"#{run.pk}",
        "Order",
        "placed",
        "0/0",
        "Office",
        "365",
        "E4",
        "->",
        "Office",
        "365",
        "E5",
        "Dec",
        "4,",
        "2026,",
        "14:38",
    ]
    assert lines[-1] == "1 upgrade run."


def test_json_keeps_the_state_codes_and_the_list_is_the_apis():
    t = upgrade_tenant(users=1)
    run = place(t)

    single = json.loads(_run("--tenant", t.tenant.slug, str(run.pk), "--json"))
    listed = json.loads(_run("--tenant", t.tenant.slug, "--json"))

    assert single["id"] == run.pk and single["state"] == "placed"
    assert single["state_label"] == "Order placed"
    assert [item["id"] for item in listed["items"]] == [run.pk]
    assert listed["items"][0]["state"] == "placed"


def test_a_tenant_without_runs_says_so():
    t = upgrade_tenant(users=1)

    assert (
        _run("--tenant", t.tenant.slug)
        == f"{t.tenant.name} ({t.tenant.slug}) has no upgrade runs.\n"
    )


def test_another_tenants_run_is_not_shown():
    mine, theirs = upgrade_tenant(users=1), upgrade_tenant(users=1)
    run = place(theirs)

    with pytest.raises(CommandError, match="has no upgrade run") as error:
        _run("--tenant", mine.tenant.slug, str(run.pk))

    assert error.value.returncode == 1


def test_a_failure_with_json_prints_an_error_document():
    out = StringIO()

    with pytest.raises(CommandError) as error:
        call_command("upgrade_status", "--tenant", "nope", "--json", stdout=out)

    assert error.value.returncode == 1
    assert json.loads(out.getvalue()) == {
        "error": {
            "code": "unknown_tenant",
            "message": "No tenant has the short name “nope”.",
            "details": {},
        }
    }


def test_bad_arguments_are_a_usage_error():
    with pytest.raises(CommandError) as error:
        _run("--tenant", "contoso", "not-a-number")

    assert error.value.returncode == 2
