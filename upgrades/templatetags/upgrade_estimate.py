"""How long an upgrade takes, on the checkout and status pages (upgrades.estimate)."""

from django import template
from django.utils import timezone

from billing.selectors import subscription_assigned_count
from upgrades.estimate import Estimate, duration_estimate, duration_words, remaining_seconds

register = template.Library()


@register.simple_tag
def cart_estimate(cart) -> Estimate:
    """The expected duration of the cart's upgrade: its source's assigned users, learnt from
    the recent runs (two queries)."""
    return duration_estimate(users=subscription_assigned_count(subscription=cart.source))


@register.simple_tag
def run_estimate(run) -> Estimate | None:
    """The estimate stored when the run was placed (no query)."""
    return Estimate.from_json(run.estimate)


@register.simple_tag
def run_remaining(run) -> float | None:
    """Seconds left of an active run, from its own fields (no query: the status poll)."""
    return remaining_seconds(run=run, now=timezone.now())


@register.filter
def duration(seconds) -> str:
    return duration_words(seconds)


@register.simple_tag
def run_took(run) -> float | None:
    """Real seconds a completed run worked, start of provisioning to completed (no query)."""
    if run.work_started_at is None or run.work_finished_at is None:
        return None
    return (run.work_finished_at - run.work_started_at).total_seconds()
