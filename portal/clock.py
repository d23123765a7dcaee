"""The only source of "now" for business rules (lifecycle days, credit-check deadlines,
paid-through dates). Tests move it with clock_advance; the demo speeds it up with
PORTAL_CLOCK_SPEED so that days pass in seconds."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from .models import ClockState


def now() -> dt.datetime:
    """Simulated now. A read: until the clock is anchored (clock_anchor, by the periodic task or
    clock_advance) simulated time is real time."""
    real = timezone.now()
    state = ClockState.objects.filter(pk=1).first()
    if state is None:
        return real
    elapsed = (real - state.real_anchor).total_seconds() * state.speed
    return state.sim_anchor + dt.timedelta(seconds=elapsed)


def clock_anchor() -> None:
    """Start simulated time running at PORTAL_CLOCK_SPEED from now, once (a write, so that
    reading the clock never is one). Every process then shares the same anchor."""
    speed = settings.PORTAL_CLOCK_SPEED
    if speed == 1.0:
        return
    real = timezone.now()
    ClockState.objects.bulk_create(
        [ClockState(pk=1, real_anchor=real, sim_anchor=real, speed=speed)],
        ignore_conflicts=True,
    )


def today() -> dt.date:
    return now().date()


def clock_advance(*, delta: dt.timedelta) -> dt.datetime:
    """Move simulated time forward (tests and the support console's demo tools)."""
    current = now()
    real = timezone.now()
    speed = ClockState.objects.filter(pk=1).values_list("speed", flat=True).first()
    target = current + delta
    ClockState.objects.update_or_create(
        pk=1,
        defaults={
            "real_anchor": real,
            "sim_anchor": target,
            "speed": speed or settings.PORTAL_CLOCK_SPEED,
        },
    )
    return target


def add_business_days(start: dt.datetime, days: int) -> dt.datetime:
    result = start
    added = 0
    while added < days:
        result += dt.timedelta(days=1)
        if result.weekday() < 5:
            added += 1
    return result
