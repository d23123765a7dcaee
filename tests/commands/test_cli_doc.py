"""docs/CLI.md's examples, run as written, in order, on the fresh demo (a flushed database, so
ids start from 1 as on a first `./bin/run`, the demo seeded, and the one purchase the document
asks for by hand). Each `$ command` of a console block runs as a process in a folder laid out as
the checkout; what it prints (stdout, then stderr) must be the lines shown under it, and
`$ echo $?` its exit status."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.fresh_demo import fresh_demo_seed
from tests.upgrades.conftest import celery_queue_purge
from tests.upgrades.workers import database_url_of_test_db

ROOT = Path(__file__).resolve().parent.parent.parent
DOC = ROOT / "docs" / "CLI.md"

pytestmark = pytest.mark.django_db(transaction=True)


def console_examples() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every `$ ` line of the console blocks."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append((line[2:], []))
            else:
                examples[-1][1].append(line)
    return examples


@pytest.fixture
def fresh_demo():
    _, order = fresh_demo_seed(idempotency_key="cli-doc-first-purchase")
    assert order.subscription.pk == 16
    yield
    celery_queue_purge()


def test_the_examples_of_docs_cli_print_what_the_document_shows(fresh_demo, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url_of_test_db(),
        REDIS_URL=settings.REDIS_URL,
        PORTAL_VAR_DIR=str(tmp_path / "var"),
    )
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    (work / "manage.py").symlink_to(ROOT / "manage.py")

    examples = console_examples()
    assert sum("manage.py licenses_" in command for command, _ in examples) >= 8
    status = None
    for command, expected in examples:
        if command == "echo $?":
            assert expected == [str(status)]
            continue
        result = subprocess.run(
            ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
        status = result.returncode
        printed = (result.stdout + result.stderr).splitlines()
        assert printed == expected, (command, result.stdout, result.stderr)
        if status == 0:
            assert result.stderr == "", command
