from celery import shared_task
from django.db import connection


@shared_task(name="portal.tasks.ping", ignore_result=False)
def ping(value):
    """A round-trip check: the worker answers with what it was sent and its database vendor."""
    return {"echo": value, "vendor": connection.vendor}
