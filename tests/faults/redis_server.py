"""A throwaway `redis-server` on a free loopback port, for tests that stop and restart the broker
without touching the shared Redis on 6379 that the other tests use.

It runs without persistence (`--save "" --appendonly no`), like the compose file's Redis: a
restart loses every key, queued and unacknowledged messages included.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis answers PING on 127.0.0.1:port (plain socket: no client library)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """start() / stop() / restart(); the port stays the same across restarts."""

    def __init__(self, directory: Path, port: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = self.directory / f"redis-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 10) -> "RedisServer":
        assert not self.running, "already running"
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.log_path),
                "--daemonize",
                "no",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server did not answer PING:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def stop(self, *, kill: bool = False, timeout: float = 10) -> None:
        """SIGTERM (a clean shutdown: clients see their sockets closed) or, with kill=True,
        SIGKILL (a crash). Either way nothing is persisted."""
        if not self.running:
            return
        os.kill(self.process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout)
        deadline = time.monotonic() + timeout
        while ping(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, downtime: float = 0.0, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        time.sleep(downtime)
        self.start()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no redis log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
