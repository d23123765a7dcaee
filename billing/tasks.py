from celery import shared_task

from . import services


@shared_task(name="billing.tasks.subscriptions_advance")
def subscriptions_advance():
    return services.subscriptions_advance()
