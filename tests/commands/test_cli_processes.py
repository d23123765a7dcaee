"""The license commands as a person or a script runs them: `manage.py` in a process of its own,
with the settings manage.py uses by default (config.settings.local) on the test database, its
output read from a pipe (a script, a log, CI) and from a real terminal (a pseudo-terminal)."""

import json
import os
import pty
import re
import select
import subprocess
import sys

import pytest
from django.conf import settings

from licensing.models import LicenseAssignment
from tests.factories import (
    BillingProfileFactory,
    DirectoryUserFactory,
    SubscriptionFactory,
    TenantFactory,
    product,
)
from tests.processes import ROOT
from tests.upgrades.conftest import catalog_ensure
from tests.upgrades.workers import database_url_of_test_db

pytestmark = pytest.mark.django_db(transaction=True)

ERROR_STYLE = "\x1b[31"  # Django's ERROR style is red (bold)


def _env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=database_url_of_test_db(),
        REDIS_URL=settings.REDIS_URL,
        PORTAL_VAR_DIR=str(tmp_path / "var"),
    )
    return env


def _manage(*args) -> list[str]:
    return [sys.executable, "manage.py", *[str(a) for a in args]]


@pytest.fixture
def world(tmp_path):
    catalog_ensure()  # transactional tests flush the tables, the catalog included
    tenant = TenantFactory()
    BillingProfileFactory(tenant=tenant)
    e5 = SubscriptionFactory(tenant=tenant, product=product("M365_E5"), quantity=3)
    people = [DirectoryUserFactory(tenant=tenant) for _ in range(3)]
    path = tmp_path / "users.csv"
    path.write_text("UPN\n" + "\n".join(p.upn for p in people) + "\n", encoding="utf-8")
    args = ["--tenant", tenant.slug, "--subscription", e5.pk, "--csv", path]
    return tenant, e5, people, args


def test_through_a_pipe_exit_statuses_lines_and_json(world, tmp_path):
    _tenant, e5, people, args = world
    env = _env(tmp_path)

    def run(*more):
        return subprocess.run(
            _manage("licenses_assign", *args, *more),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = run()
    again = run("--json")
    missing = subprocess.run(
        _manage("licenses_assign", *args[:-1], tmp_path / "missing.csv"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    stranger = tmp_path / "stranger.csv"
    stranger.write_text("nobody@nowhere.test\n", encoding="utf-8")
    refused = subprocess.run(
        _manage("licenses_assign", *args[:-1], stranger),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    usage = run("--subscription", "not-a-number", "--json")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "\r" not in done.stdout
    assert done.stdout.splitlines() == [
        "Finding users: 3/3",
        "Applying: 0/3",
        "Applying: 3/3",
        "  users: " + ", ".join(p.upn for p in people),
        f"  now: Microsoft 365 E5 (subscription {e5.pk}): 0 of 3 licenses free",
        "Assigned 3 licenses, 0 already held, 0 refused.",
    ]
    assert LicenseAssignment.objects.filter(subscription=e5).count() == 3

    assert again.returncode == 0 and again.stderr == ""
    document = json.loads(again.stdout)
    assert document["counts"] == {"requested": 3, "changed": 0, "skipped": 3, "refused": 0}
    assert document["users"]["skipped"] == [p.upn for p in people]

    assert missing.returncode == 2
    assert missing.stdout == ""
    assert missing.stderr.startswith("Error: Cannot read ")

    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        "Finding users: 1/1",
        "Assigned 0 licenses, 0 already held, 1 refused.",
    ]
    assert refused.stderr == (
        "Error: Refused, nothing changed: These users are not in this organisation's directory: "
        "nobody@nowhere.test.\n  1 user: nobody@nowhere.test\n"
    )

    assert usage.returncode == 2
    assert json.loads(usage.stdout)["error"]["code"] == "usage"
    assert "argument --subscription: invalid int value" in usage.stderr


def _run_on_terminals(argv, env, timeout=120) -> tuple[int, str, str]:
    """Run with stdout and stderr each on a pseudo-terminal of its own; (status, out, err)."""
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out_slave, stderr=err_slave
    )
    os.close(out_slave)
    os.close(err_slave)
    read = {out_master: b"", err_master: b""}
    open_fds = set(read)
    while open_fds:
        ready, _w, _x = select.select(list(open_fds), [], [], timeout)
        if not ready:
            process.kill()
            raise TimeoutError(read)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other end is closed
                chunk = b""
            if chunk:
                read[fd] += chunk
            else:
                open_fds.discard(fd)
                os.close(fd)
    status = process.wait(timeout=timeout)
    return status, read[out_master].decode(), read[err_master].decode()


def test_on_a_terminal_progress_is_redrawn_in_place_and_nothing_looks_failed(world, tmp_path):
    _tenant, _e5, _people, args = world
    env = {**_env(tmp_path), "TERM": "xterm-256color"}
    env.pop("DJANGO_COLORS", None)

    status, out, err = _run_on_terminals(_manage("licenses_assign", *args), env)

    assert status == 0, err
    assert err == ""
    assert re.search(r"\rFinding users \[#{30}\] 3/3\r\n", out), out
    assert re.search(r"\rApplying \[\.{30}\] 0/3\rApplying \[#{30}\] 3/3\r\n", out), out
    assert ERROR_STYLE not in out
    assert "Assigned 3 licenses, 0 already held, 0 refused." in out
    # The terminal does get colours: the summary of a good run is green.
    assert "\x1b[32;1mAssigned 3 licenses" in out
