"""Real processes for integration tests: a Celery worker, run as a subprocess."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker_env(**overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Worker:
    """`celery worker` in its own process group, so a SIGKILL takes its children with it."""

    def __init__(
        self,
        env: dict,
        log_path: Path,
        *,
        pool: str = "solo",
        queues: str = "celery",
        app: str = "config",
    ):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "--loglevel=INFO",
                "-Q",
                queues,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no chance to ack or clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def processes() -> list[tuple[int, int, int, int, str]]:
    """(pid, ppid, pgid, sid, command line) of every process."""
    out = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,ppid=,pgid=,sid=,args="],  # -ww: whole command lines
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        pid, ppid, pgid, sid, *args = line.split(None, 4)
        rows.append((int(pid), int(ppid), int(pgid), int(sid), args[0] if args else ""))
    return rows


def descendants(root: int) -> list[tuple[int, int, int, int, str]]:
    rows = processes()
    found, frontier = [], {root}
    while frontier:
        children = [r for r in rows if r[1] in frontier]
        found += children
        frontier = {r[0] for r in children}
    return found


def bin_run_start(*, env: dict, out) -> subprocess.Popen:
    """Start bin/run as a terminal would: its own process group (the terminal's Ctrl-C goes to
    it), output to `out`. Stop it with bin_run_stop."""
    return subprocess.Popen(
        [str(ROOT / "bin" / "run")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # A shell cannot trap a signal it was started with ignored (as background jobs are).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def bin_run_stop(run: subprocess.Popen, *, groups: set[int], timeout: float) -> None:
    """Stop a bin/run started by a test as Ctrl-C would, then kill whatever of its processes is
    left (in `groups`, the process groups seen under it, or their sessions)."""
    groups |= {row[2] for row in descendants(run.pid)}
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            run.wait(timeout=timeout)
    ours = ("bin/run", "celery -A config", "manage.py runserver")
    for group in {
        row[2]
        for row in processes()
        if (row[2] in groups or row[3] in groups) and any(o in row[4] for o in ours)
    }:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    if run.poll() is None:
        run.wait(timeout=10)
