"""Start a real Celery worker against Redis and the pytest test database."""

from django.conf import settings
from django.db import connection

from tests.processes import Worker, worker_env


def database_url_of_test_db() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(tmp_path, name, *, pool="solo", **env) -> Worker:
    """Keyword arguments are environment variables; they win over the defaults below."""
    defaults = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url_of_test_db(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.REDIS_URL,
        "PORTAL_PROVISIONING_DELAY_SECONDS": "0",
    }
    worker = Worker(worker_env(**{**defaults, **env}), tmp_path / f"{name}.log", pool=pool)
    try:
        worker.wait_ready()
    except Exception:
        worker.stop()
        raise
    return worker
