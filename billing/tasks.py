from celery import shared_task

from portal import clock

from . import orders, renewals, services


@shared_task(name="billing.tasks.subscriptions_advance", ignore_result=True)
def subscriptions_advance():
    """The periodic billing step (beat): subscriptions due renew (billing.renewals), unpaid
    renewals are reminded of or lapse, subscriptions move on through their states, and
    purchase orders whose credit check has been decided are completed or closed."""
    clock.clock_anchor()  # the demo's fast clock starts with the first periodic run
    renewed = renewals.subscriptions_renew()
    renewed["reminded"] = renewals.renewals_remind()
    renewed["lapsed"] = renewals.renewals_lapse()
    moved = services.subscriptions_advance()
    return {
        **renewed,
        **moved,
        **{f"orders_{k}": v for k, v in orders.purchase_orders_advance().items()},
    }
