import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(settings_module, extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
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
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = run_check("config.settings.production", {"DJANGO_ALLOWED_HOSTS": "x.example"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
