"""The one-command demo's stack: SQLite and the file-based broker, with a real worker."""

import subprocess
import sys

from .processes import ROOT, Worker, worker_env

SEND_AND_WAIT = """
from portal.tasks import ping
result = ping.delay("hello").get(timeout=60)
print(result["echo"], result["vendor"])
"""


def test_embedded_default_runs_a_task_round_trip_through_a_real_worker(tmp_path):
    env = worker_env(DJANGO_SETTINGS_MODULE="config.settings.local", PORTAL_VAR_DIR=tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    worker = Worker(env, tmp_path / "worker.log")
    try:
        worker.wait_ready()
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n" + SEND_AND_WAIT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["hello", "sqlite"]
        assert (tmp_path / "portal.sqlite3").exists()
        assert (tmp_path / "celery" / "queue").is_dir()
    finally:
        worker.stop()


def test_embedded_database_keeps_the_license_tally_triggers_after_every_migration(tmp_path):
    """SQLite drops a table's triggers when a migration rebuilds the table: the assignments'
    tally triggers (licensing 0003) must survive every later migration, or the license counts
    of the embedded default stop moving (licensing 0005 once rebuilt the table)."""
    import sqlite3

    env = worker_env(DJANGO_SETTINGS_MODULE="config.settings.local", PORTAL_VAR_DIR=tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        env.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    with sqlite3.connect(tmp_path / "portal.sqlite3") as db:
        triggers = {
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'licensing_licenseassignment'"
            )
        }
    assert triggers == {
        "licensing_tally_insert",
        "licensing_tally_delete",
        "licensing_tally_update",
    }
