"""The image without Docker: its static files collected as the Dockerfile collects them (the
same settings module, the same build-only environment), then gunicorn (the image's CMD) run
with docker-compose's environment and asked for the sign-in page through the web service's own
healthcheck. Read from the Dockerfile and docker-compose.yml themselves, so collecting with
other settings than the containers run (no manifest: every page a 500) fails here."""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# What a container starts with, besides what the Dockerfile and compose set.
BASE_ENV = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
ASSIGNMENT = re.compile(r"\b([A-Z][A-Z0-9_]*)=(\S+)")
COMPOSE_REQUIRED = re.compile(r"^\$\{(\w+):?\?[^}]*\}$")  # ${NAME:?message}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            env.update(ASSIGNMENT.findall(arguments))
    return env


def collectstatic_step() -> tuple[dict[str, str], list[str]]:
    """The environment the Dockerfile's collectstatic RUN line sets, and the arguments it
    gives manage.py there."""
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
    line = next(args for args in runs if "collectstatic" in args)
    env = {}
    for command in line.split("&&"):
        env.update(ASSIGNMENT.findall(command.split("manage.py")[0]))
        if "manage.py collectstatic" in command:
            manage_args = shlex.split(command.split("manage.py", 1)[1])
    return env, manage_args


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_env(service: str, overrides: dict[str, str]) -> dict[str, str]:
    """The service's environment; a ${NAME:?...} the shell must give comes from overrides, as
    do the addresses of this machine's database and Redis."""
    env = {}
    for name, value in compose()["services"][service]["environment"].items():
        value = str(value)
        required = COMPOSE_REQUIRED.match(value)
        if required:
            value = overrides[required.group(1)]
        env[name] = overrides.get(name, value)
    return env


def healthcheck_code(service: str) -> str:
    """The Python source of a ["CMD", "python", "-c", source] healthcheck."""
    test = compose()["services"][service]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    return test[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = settings.DATABASES["default"]  # the test database, once django_db_setup has run
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (http://127.0.0.1)
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_collectstatic_runs_with_the_settings_the_containers_run():
    build_env, _ = collectstatic_step()
    containers = compose()["x-app"]["environment"]["DJANGO_SETTINGS_MODULE"]
    assert build_env.get("DJANGO_SETTINGS_MODULE") == containers


def test_the_image_serves_the_sign_in_page_with_its_hashed_stylesheet(django_db_setup, tmp_path):
    # Build: collectstatic exactly as the Dockerfile runs it, with only its own environment.
    var = tmp_path / "var"
    build_env, manage_args = collectstatic_step()
    image_env = {**dockerfile_env(), "PORTAL_VAR_DIR": str(var)}
    built = subprocess.run(
        [sys.executable, "manage.py", *manage_args],
        cwd=ROOT,
        env={**BASE_ENV, **image_env, **build_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    manifest = json.loads((var / "staticfiles" / "staticfiles.json").read_text())["paths"]
    stylesheet = manifest["portal/portal.css"]
    assert re.fullmatch(r"portal/portal\.[0-9a-f]{12}\.css", stylesheet)

    # Run: the image's CMD (one worker, on a free local port) with the web service's env.
    port = free_port()
    command = json.loads(next(a for k, a in dockerfile_instructions() if k == "CMD"))
    command[0] = str(BIN / command[0])
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = "1"
    redis = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    env = {
        **BASE_ENV,
        **image_env,
        **compose_env(
            "web",
            {
                "DJANGO_SECRET_KEY": "test-only-not-secret",
                "DATABASE_URL": database_url(),
                "REDIS_URL": redis,
                "CELERY_BROKER_URL": redis,
            },
        ),
    }
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "gunicorn did not start listening"
            time.sleep(0.2)

        # The web service's healthcheck, pointed at this port, passes.
        check = healthcheck_code("web")
        assert "127.0.0.1:8000" in check
        healthy = subprocess.run(
            [sys.executable, "-c", check.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert healthy.returncode == 0, healthy.stderr[-3000:]

        status, _, page = get(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200
        assert f'href="/static/{stylesheet}"' in page.decode()
        status, content_type, body = get(f"http://127.0.0.1:{port}/static/{stylesheet}")
        assert status == 200
        assert content_type.startswith("text/css")
        assert body == (var / "staticfiles" / stylesheet).read_bytes()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.mark.parametrize(("age_seconds", "healthy"), [(None, False), (5, True), (11 * 60, False)])
def test_the_beat_healthcheck_asks_for_a_recently_written_schedule(tmp_path, age_seconds, healthy):
    beat = compose()["services"]["beat"]
    schedule = beat["command"][beat["command"].index("--schedule") + 1]
    check = healthcheck_code("beat")
    assert schedule in check
    local = tmp_path / "celerybeat-schedule"
    if age_seconds is not None:
        # Python's dbm may add a suffix to the name (.db, .dat): the check globs for them.
        written = local.with_name(local.name + ".db")
        written.write_bytes(b"")
        os.utime(written, (time.time() - age_seconds,) * 2)
    result = subprocess.run(
        [sys.executable, "-c", check.replace(schedule, str(local))],
        capture_output=True,
        timeout=30,
    )
    assert (result.returncode == 0) is healthy, result.stderr
