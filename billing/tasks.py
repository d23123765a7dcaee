from celery import shared_task

from portal import clock

from . import orders, services


@shared_task(name="billing.tasks.subscriptions_advance", ignore_result=True)
def subscriptions_advance():
    """The periodic lifecycle step (beat): subscriptions move on through their states, and
    purchase orders whose credit check has been decided are completed or closed."""
    clock.clock_anchor()  # the demo's fast clock starts with the first periodic run
    moved = services.subscriptions_advance()
    return {**moved, **{f"orders_{k}": v for k, v in orders.purchase_orders_advance().items()}}
