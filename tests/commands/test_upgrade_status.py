import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from upgrades import engine

from ..support.conftest import place, upgrade_tenant

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command("upgrade_status", *args, stdout=out)
    return out.getvalue()


def test_it_prints_a_runs_state_progress_and_timeline():
    t = upgrade_tenant(users=4)
    run = place(t)
    engine.run_advance(run_id=run.pk)

    out = _run("--tenant", t.tenant.slug, str(run.pk))

    assert f"Upgrade run #{run.pk}" in out
    assert "(completed)" in out
    assert "4/4 users moved (100%)" in out
    assert "placed -> provisioning" in out and "cancelling_source -> completed" in out


def test_it_prints_the_failure():
    t = upgrade_tenant(users=2, card_token="tok_decline")
    run = place(t)
    engine.run_advance(run_id=run.pk)

    out = _run("--tenant", t.tenant.slug, str(run.pk))

    assert "failed at provisioning" in out


def test_without_a_run_id_it_lists_the_tenants_runs_and_can_print_json():
    t = upgrade_tenant(users=1)
    run = place(t)

    assert f"#{run.pk}  placed" in _run("--tenant", t.tenant.slug)
    data = json.loads(_run("--tenant", t.tenant.slug, str(run.pk), "--json"))
    assert data["id"] == run.pk and data["state"] == "placed"


def test_another_tenants_run_is_not_shown():
    mine, theirs = upgrade_tenant(users=1), upgrade_tenant(users=1)
    run = place(theirs)

    with pytest.raises(CommandError, match="has no upgrade run"):
        _run("--tenant", mine.tenant.slug, str(run.pk))
