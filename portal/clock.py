"""The only source of "now" for business rules (lifecycle days, credit-check deadlines,
paid-through dates). Tests move it with clock_advance; the demo speeds it up with
PORTAL_CLOCK_SPEED so that days pass in seconds."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from .models import ClockState


def _simulated(state: ClockState | None, real: dt.datetime) -> dt.datetime:
    """The simulated time at real time `real`."""
    if state is None:
        return real
    elapsed = (real - state.real_anchor).total_seconds() * state.speed
    return state.sim_anchor + dt.timedelta(seconds=elapsed)


def now() -> dt.datetime:
    """Simulated now. A read: until the clock is anchored (clock_anchor, by the periodic task or
    clock_advance) simulated time is real time."""
    return _simulated(ClockState.objects.filter(pk=1).first(), timezone.now())


# A fast clock unseen for longer than this (real time) was stopped: it resumes where it was.
PAUSE_AFTER = dt.timedelta(seconds=60)


def clock_anchor() -> None:
    """Start simulated time running at PORTAL_CLOCK_SPEED from now, once (a write, so that
    reading the clock never is one). Every process then shares the same anchor. Called by the
    periodic task and when the demo starts: a fast clock last seen more than PAUSE_AFTER ago
    (the demo was stopped overnight) resumes from the simulated time it had then, so days pass
    only while the demo runs."""
    speed = settings.PORTAL_CLOCK_SPEED
    if speed == 1.0:
        return
    real = timezone.now()
    ClockState.objects.bulk_create(
        [ClockState(pk=1, real_anchor=real, sim_anchor=real, speed=speed, ticked_at=real)],
        ignore_conflicts=True,
    )
    state = ClockState.objects.filter(pk=1).first()
    if state is None or state.ticked_at == real:
        return  # just started
    seen = state.ticked_at or state.real_anchor
    if real - seen > PAUSE_AFTER and state.speed != 1.0:
        paused_at = _simulated(state, seen)
        ClockState.objects.filter(pk=1, ticked_at=state.ticked_at).update(
            real_anchor=real, sim_anchor=paused_at, ticked_at=real
        )
    else:
        ClockState.objects.filter(pk=1).update(ticked_at=real)


def real_seconds_since(moment: dt.datetime) -> float:
    """Real seconds since a simulated moment (simulated time divided by the clock's speed):
    for waits a person lives through, such as how long a checkout's prices stay fixed, which
    must not shrink to nothing when the demo runs days in minutes."""
    state = ClockState.objects.filter(pk=1).first()
    speed = state.speed if state is not None else 1.0
    return (_simulated(state, timezone.now()) - moment).total_seconds() / speed


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
