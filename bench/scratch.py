"""The scratch PostgreSQL database each benchmark runs in (never the embedded SQLite one)."""

import os
import sys
from urllib.parse import urlparse


def scratch_database_url(*, default: str, script: str) -> str:
    url = os.environ.get("DATABASE_URL", default)
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"{script} needs a PostgreSQL DATABASE_URL (a scratch database).")
    return url


def scratch_database_prepare(url: str, *, fresh: bool) -> None:
    """CREATE DATABASE if it is missing; with fresh=True drop it first (only databases named
    portal_bench*, so a mistyped URL cannot drop real data)."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if fresh and not name.startswith("portal_bench"):
        sys.exit("Refusing to recreate a database whose name does not start with portal_bench.")
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
