"""bin/run supervises the Celery worker: a worker that dies (SIGKILL, as a crash or an OOM kill
would) is started again within seconds, and Ctrl-C still stops everything, leaving no process
behind.

Runs the real bin/run on the embedded defaults (SQLite and the folder broker) under a temporary
PORTAL_VAR_DIR, so it shares nothing with the other tests or with a running demo.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import bin_run_start, bin_run_stop, descendants, processes

from .redis_server import free_port

pytestmark = [pytest.mark.faults, pytest.mark.worker]

WORKER = "celery -A config worker"


def live_pids() -> set[int]:
    """Processes that have not exited (zombies waiting to be reaped do not count)."""
    out = subprocess.run(
        ["ps", "-eo", "pid=,stat="], capture_output=True, text=True, check=True
    ).stdout
    return {int(pid) for pid, stat in (line.split() for line in out.splitlines()) if stat[0] != "Z"}


def worker_mains(run_pid: int) -> list[int]:
    """The worker's main process: the one started by a supervisor (its pool is its children)."""
    tree = descendants(run_pid)
    supervisors = {r[0] for r in tree if r[1] == run_pid}
    return [r[0] for r in tree if r[1] in supervisors and WORKER in r[4]]


def wait_until(predicate, timeout: float, message):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(message())


def test_bin_run_restarts_a_killed_worker_and_ctrl_c_leaves_nothing_behind(tmp_path):
    var = tmp_path / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST")
        and k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        PORTAL_VAR_DIR=str(var),
        PORT=str(free_port()),
    )
    out_path = tmp_path / "bin-run.out"
    worker_log = var / "log" / "worker.log"
    with open(out_path, "wb") as out:
        run = bin_run_start(env=env, out=out)
    seen_groups = {run.pid}

    def report() -> str:
        log = worker_log.read_text(errors="replace")[-2500:] if worker_log.exists() else ""
        return (
            f"\n--- bin/run output ---\n{Path(out_path).read_text(errors='replace')[-2500:]}"
            f"\n--- worker log ---\n{log}"
        )

    def readies() -> int:
        return worker_log.read_text(errors="replace").count("ready.") if worker_log.exists() else 0

    try:
        wait_until(
            lambda: readies() >= 1 and worker_mains(run.pid), 45, lambda: "no worker" + report()
        )
        [first] = worker_mains(run.pid)
        first_pool = [r[0] for r in processes() if r[1] == first]
        seen_groups |= {r[2] for r in descendants(run.pid)}

        os.kill(first, signal.SIGKILL)
        killed_at = time.monotonic()
        second = wait_until(
            lambda: readies() >= 2 and [p for p in worker_mains(run.pid) if p != first],
            10,
            lambda: "the worker was not restarted within 10 s" + report(),
        )[0]
        restarted_in = time.monotonic() - killed_at
        assert re.search(r"worker exited \(code 137\); restarting in 1 s", out_path.read_text()), (
            report()
        )
        wait_until(
            lambda: not live_pids() & set(first_pool),
            3,
            lambda: "the killed worker's pool outlived it" + report(),
        )
        seen_groups |= {r[2] for r in descendants(run.pid)}

        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in the terminal
        stopping_at = time.monotonic()
        run.wait(timeout=30)
        stopped_in = time.monotonic() - stopping_at
        time.sleep(0.5)
        live = live_pids()
        left = [
            r for r in processes() if (r[2] in seen_groups or r[3] in seen_groups) and r[0] in live
        ]
        assert not left, f"left behind: {left}" + report()
        assert "Warm shutdown" in worker_log.read_text(), report()
        print(
            f"\nworker {first} killed; {second} ready {restarted_in:.1f} s later; "
            f"Ctrl-C stopped everything in {stopped_in:.1f} s"
        )
    finally:  # after a failure: stop bin/run as Ctrl-C would, then kill what is left of ours
        bin_run_stop(run, groups=seen_groups, timeout=20)
