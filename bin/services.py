"""Finds the PostgreSQL and Redis the tests need, or starts throwaway ones from installed server
binaries. Prints `export NAME=value` lines for bin/test to eval; explains on stderr and exits 1
when neither a running service nor a server binary is there."""

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / "var" / "test-services"


def say(message):
    print(message, file=sys.stderr)


def reachable(host, port, timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(host, port, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reachable(host, port):
            return True
        time.sleep(0.3)
    return False


def find_binary(name):
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def postgres():
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 5432
    if reachable(host, port):
        return url
    # Debian's packaged cluster, as on the CI machine.
    if shutil.which("pg_ctlcluster") and os.path.isdir("/etc/postgresql") and os.geteuid() == 0:
        for version in os.listdir("/etc/postgresql"):
            say(f"==> starting PostgreSQL {version} (pg_ctlcluster)")
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
            )
        if wait_for(host, port):
            return url
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if initdb and pg_ctl and os.geteuid() != 0:
        data = TMP / "pg"
        port = 54329
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        say(f"==> starting a throwaway PostgreSQL on 127.0.0.1:{port}")
        subprocess.run(
            [
                pg_ctl,
                "-D",
                str(data),
                "-l",
                str(TMP / "pg.log"),
                "-o",
                f"-p {port} -k {TMP} -c listen_addresses=127.0.0.1",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if wait_for("127.0.0.1", port):
            return f"postgres://postgres@127.0.0.1:{port}/portal"
    say(
        "error: PostgreSQL is not reachable at "
        f"{host}:{port} and no server could be started here.\n"
        "  Install it (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install "
        "postgresql) or point DATABASE_URL at a server you have."
    )
    return None


def redis():
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if reachable(host, port):
        return url
    server = shutil.which("redis-server")
    if server:
        port = 63790
        TMP.mkdir(parents=True, exist_ok=True)
        say(f"==> starting a throwaway Redis on 127.0.0.1:{port}")
        subprocess.run(
            [
                server,
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(TMP),
                "--pidfile",
                str(TMP / "redis.pid"),
                "--logfile",
                str(TMP / "redis.log"),
            ],
            check=True,
        )
        if wait_for("127.0.0.1", port):
            return f"redis://127.0.0.1:{port}/15"
    say(
        f"error: Redis is not reachable at {host}:{port} and redis-server is not installed.\n"
        "  Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install "
        "redis) or point REDIS_URL at a server you have."
    )
    return None


def main():
    database_url, redis_url = postgres(), redis()
    if not database_url or not redis_url:
        return 1
    print(f"export DATABASE_URL='{database_url}'")
    print(f"export REDIS_URL='{redis_url}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
