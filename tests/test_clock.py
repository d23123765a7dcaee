"""The demo's fast clock: it runs only while the demo does, and waits a person lives through are
measured in real time."""

import datetime as dt

import pytest
from django.utils import timezone

from portal import clock
from portal.models import ClockState

pytestmark = pytest.mark.django_db

SPEED = 720.0


@pytest.fixture
def fast(settings):
    settings.PORTAL_CLOCK_SPEED = SPEED
    clock.clock_anchor()
    return ClockState.objects.get(pk=1)


def _last_seen(seconds_ago: float, *, anchored_ago: float = 600.0) -> dt.datetime:
    real = timezone.now()
    sim = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    ClockState.objects.filter(pk=1).update(
        real_anchor=real - dt.timedelta(seconds=anchored_ago),
        sim_anchor=sim,
        ticked_at=real - dt.timedelta(seconds=seconds_ago),
    )
    return sim


def _near(a: dt.datetime, b: dt.datetime, seconds: float) -> bool:
    return abs((a - b).total_seconds()) <= seconds


def test_a_fast_clock_stopped_for_a_while_resumes_where_it_was_seen_last(fast):
    sim = _last_seen(590)  # seen 10 s after its anchor, then nothing for almost 10 minutes
    clock.clock_anchor()
    # 10 real seconds ran at 720x: two simulated hours, not the 5 days the pause would add.
    assert _near(
        clock.now(), sim + dt.timedelta(seconds=10 * SPEED), SPEED
    )  # within one real second
    assert ClockState.objects.get(pk=1).speed == SPEED


def test_a_fast_clock_seen_recently_keeps_running(fast):
    sim = _last_seen(10)
    clock.clock_anchor()
    assert _near(
        clock.now(), sim + dt.timedelta(seconds=600 * SPEED), SPEED
    )  # within one real second


def test_real_seconds_since_divides_simulated_time_by_the_speed(fast):
    assert clock.real_seconds_since(clock.now() - dt.timedelta(seconds=SPEED)) == pytest.approx(
        1.0, abs=0.5
    )
