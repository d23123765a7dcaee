from celery import shared_task


@shared_task(name="portal.tasks.ping")
def ping(value):
    """A round-trip check: the worker answers with what it was sent and its database vendor."""
    from django.db import connection

    return {"echo": value, "vendor": connection.vendor}
