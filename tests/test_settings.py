import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_check(settings_module, extra_env):
    # Only what the test passes: none of the runner's own settings, database or broker.
    inherited = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
    env.update(extra_env, DJANGO_SETTINGS_MODULE=settings_module)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_production_settings_pass_check_deploy():
    result = run_check(
        "config.settings.production",
        {
            "DJANGO_SECRET_KEY": "x" * 60 + "-a-long-random-production-key",
            "DJANGO_ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1/portal"),
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "PORTAL_TRUSTED_PROXY_COUNT": "1",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


PRODUCTION = {
    "DJANGO_SECRET_KEY": "x" * 60 + "-a-long-random-production-key",
    "DJANGO_ALLOWED_HOSTS": "x.example",
    "DATABASE_URL": "postgres://postgres@127.0.0.1/portal",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "PORTAL_TRUSTED_PROXY_COUNT": "0",
}


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "PORTAL_TRUSTED_PROXY_COUNT"]
)
def test_production_settings_refuse_to_start_without_a_required_variable(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run_check("config.settings.production", env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_settings_refuse_the_embedded_folder_broker():
    env = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    result = run_check("config.settings.production", env)
    assert result.returncode != 0
    assert "CELERY_BROKER_URL" in result.stderr
