"""The README's API and command-line examples, run as they are written, in their order, on the
fresh demo: a flushed database (ids from 1, as on a first `./bin/run`), the demo seeded, and
the one step the README asks for by hand first (buying Office 365 E5 for Contoso). The curl
calls go to a live server with a token made for Contoso's admin; the manage.py commands run as
processes on the test database. Each must succeed and change exactly what it says it changes."""

import json
import os
import re
import shlex
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from django.conf import settings

from billing.models import Subscription
from licensing.models import LicenseAssignment
from portal.api.services import api_token_create
from tests.fresh_demo import fresh_demo_seed
from tests.upgrades.conftest import celery_queue_purge

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## API and command line"
README_HOST = "http://127.0.0.1:8000"

pytestmark = pytest.mark.django_db(transaction=True)


def readme_commands() -> list[str]:
    """The shell lines of the section's sh blocks, continuation lines joined, comments and
    blank lines left out."""
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def named_ids(command: str) -> dict[str, int]:
    """The subscription ids a command names (source, target, subscription)."""
    found = {}
    for key, value in re.findall(r'"(source|target|subscription)_id": (\d+)', command):
        found[key] = int(value)
    for key, value in re.findall(r"--(source|target|subscription) (\d+)", command):
        found[key] = int(value)
    return found


def holders() -> dict[int, set[str]]:
    """Contoso's license holders (user principal names) per subscription id that has any."""
    held = defaultdict(set)
    rows = LicenseAssignment.objects.filter(tenant__slug="contoso").values_list(
        "subscription_id", "user__upn"
    )
    for subscription_id, upn in rows:
        held[subscription_id].add(upn)
    return dict(held)


def expected_change(command: str, users: set[str], before: dict) -> dict[int, set[str]]:
    """What the command's description says the holders become."""
    after = defaultdict(set, {pk: set(upns) for pk, upns in before.items()})
    ids = named_ids(command)
    if "--dry-run" in command:
        pass
    elif re.search(r"licenses[_/]replace", command):
        after[ids["source"]] -= users
        after[ids["target"]] |= users
    elif re.search(r"licenses[_/]assign", command):
        after[ids["subscription"]] |= users
    elif re.search(r"licenses[_/]unassign", command):
        after[ids["subscription"]] -= users
    return {pk: upns for pk, upns in after.items() if upns}


@pytest.fixture
def fresh_demo():
    """The database as a first `./bin/run` leaves it, plus the purchase the README asks for."""
    admin, order = fresh_demo_seed(idempotency_key="readme-first-purchase")
    _, token = api_token_create(membership=admin, name="README examples")
    yield {"token": token, "bought": order.subscription}
    celery_queue_purge()


def run(command: str, *, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_readme_names_contosos_subscriptions_of_the_fresh_demo(fresh_demo):
    commands = readme_commands()
    named = {pk for command in commands for pk in named_ids(command).values()}
    contoso = dict(
        Subscription.objects.filter(tenant__slug="contoso").values_list("pk", "product__code")
    )
    assert named, commands
    assert named <= set(contoso), (named, contoso)
    # The target of every move is the plan the README says to buy first, with the id it gives.
    targets = {named_ids(command)["target"] for command in commands if "target" in command}
    assert targets == {fresh_demo["bought"].pk}
    assert fresh_demo["bought"].product.code == "O365_E5"
    sources = {named_ids(command)["source"] for command in commands if "source" in command}
    assert {contoso[pk] for pk in sources} == {"O365_E4"}


def test_every_api_and_cli_example_of_the_readme_runs_on_the_fresh_demo(
    fresh_demo, live_server, tmp_path
):
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "TOKEN": fresh_demo["token"],
    }
    # The commands run from a folder of their own (users.csv lands there), laid out as the
    # checkout: .venv/bin/python manage.py ...
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "manage.py").symlink_to(ROOT / "manage.py")

    ran = defaultdict(int)
    for command in readme_commands():
        if re.fullmatch(r"TOKEN=\S*(\s+#.*)?", command):
            continue  # the test's own token is in the environment
        before = holders()
        if command.startswith("curl "):
            command = command.replace(README_HOST, live_server.url)
            result = run("curl -sS -w '\\n%{http_code}' " + command[5:], cwd=work, env=env)
            assert result.returncode == 0, (command, result.stderr)
            body, status = result.stdout.rsplit("\n", 1)
            assert status.startswith("2"), (command, status, body)
            answer = json.loads(body)
            body_users = re.search(r"-d '(\{.*?\})'", command)
            users = set(json.loads(body_users.group(1))["users"]) if body_users else set()
            if command.rstrip().endswith("/subscriptions"):
                listed = {s["id"]: s for s in answer["items"]}
                listed |= {a["id"]: a for s in answer["items"] for a in s["addons"]}
                named = {pk for c in readme_commands() for pk in named_ids(c).values()}
                assert named <= set(listed), (named, sorted(listed))
            else:
                assert answer["changed"] == len(users), answer
            ran["curl"] += 1
        elif "manage.py" in command:
            result = run(command, cwd=work, env=env)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
            csv = re.search(r"--csv (\S+)", command)
            users = set()
            if csv:
                users = {line.strip() for line in (work / csv.group(1)).read_text().splitlines()}
                users.discard("")
                assert users, command
            if re.search(r">\s*(\S+)$", command):  # writes a file of users
                written = (work / re.search(r">\s*(\S+)$", command).group(1)).read_text()
                upns = written.split()
                assert upns and all(upn.endswith("@contoso.example") for upn in upns), written
            words = shlex.split(command)
            ran[words[words.index("manage.py") + 1]] += 1
        else:
            pytest.fail(f"The README documents a command this test does not run: {command}")
        after = holders()
        assert after == expected_change(command, users, before), command

    assert ran["curl"] >= 2 and ran["licenses_replace"] >= 2 and ran["upgrade_status"], ran
    # Where the examples leave Contoso: 101 users moved to E5, and off E4 and its add-ons.
    held = holders()
    moved = held[fresh_demo["bought"].pk]
    assert len(moved) == 101
    for code in ("O365_E4", "PHONE_SYSTEM", "AUDIO_CONF"):
        subscription = Subscription.objects.get(tenant__slug="contoso", product__code=code)
        assert not moved & held.get(subscription.pk, set()), code
