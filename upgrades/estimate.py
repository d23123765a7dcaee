"""How long an upgrade will take: learnt from the runs this installation has done.

Every run stores the real (wall-clock) times of its work: when it started provisioning, when
its license move began and ended, when it finished. A run's duration is a fixed part (buying
the new plan, removing add-ons, cancelling the old plan) plus a part that grows with its users
(the license move). The estimate fits both to the most recent completed runs (least squares on
the move, the median of the rest) and gives a range from how far those runs strayed from the
fit. Before any run has finished it falls back to the configured simulated latency, with a
wide range, and says so.
"""

import datetime as dt
import math
import statistics
from dataclasses import asdict, dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import RunState, UpgradeRun

# The runs an estimate learns from: the most recent completed ones.
LEARN_FROM_RUNS = 20
# The range is never narrower than this either side of the expected time.
MIN_SPREAD = 0.15
# Without any measured run: the engine's own cost per license on a modest machine
# (docs/PERFORMANCE.md: 100,000 licenses in about 1.1 s) and a wide range.
DEFAULT_SECONDS_PER_USER = 0.00002
DEFAULT_SPREAD = (0.5, 2.0)


@dataclass(frozen=True)
class Estimate:
    users: int
    seconds: float  # expected, start of provisioning to completed
    low: float
    high: float
    per_user: float  # seconds per license moved
    fixed: float  # seconds that do not depend on the users
    runs: int  # completed runs it learnt from (0: the configured default)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "Estimate | None":
        if not data:
            return None
        try:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (KeyError, TypeError):
            return None


@dataclass(frozen=True)
class Sample:
    users: int
    move: float
    fixed: float


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def samples_recent(limit: int = LEARN_FROM_RUNS) -> list[Sample]:
    """The measured completed runs, newest first (one query)."""
    rows = (
        UpgradeRun.objects.filter(
            state=RunState.COMPLETED,
            total__gt=0,
            work_started_at__isnull=False,
            move_started_at__isnull=False,
            move_finished_at__isnull=False,
            work_finished_at__isnull=False,
        )
        .order_by("-work_finished_at", "-pk")
        .values_list(
            "total", "work_started_at", "move_started_at", "move_finished_at", "work_finished_at"
        )[:limit]
    )
    samples = []
    for total, work_start, move_start, move_end, work_end in rows:
        move = _seconds(move_start, move_end)
        whole = _seconds(work_start, work_end)
        samples.append(Sample(users=total, move=move, fixed=max(whole - move, 0.0)))
    return samples


def _default_per_user() -> float:
    return DEFAULT_SECONDS_PER_USER + float(settings.PORTAL_SECONDS_PER_MOVED_USER)


def _default_fixed() -> float:
    return float(settings.PORTAL_PROVISIONING_DELAY_SECONDS) + 1.0


def _fit(samples: list[Sample]) -> tuple[float, float]:
    """(move seconds per run, seconds per user) of the license move: least squares when the
    runs differ in size, else the plain ratio. A fit that comes out negative (noise on tiny
    runs) falls back to the ratio."""
    total_users = sum(s.users for s in samples)
    ratio = sum(s.move for s in samples) / total_users
    sizes = {s.users for s in samples}
    if len(sizes) < 2:
        return 0.0, ratio
    mean_n = total_users / len(samples)
    mean_t = sum(s.move for s in samples) / len(samples)
    spread = sum((s.users - mean_n) ** 2 for s in samples)
    slope = sum((s.users - mean_n) * (s.move - mean_t) for s in samples) / spread
    intercept = mean_t - slope * mean_n
    if slope <= 0 or intercept < 0:
        return 0.0, ratio
    return intercept, slope


def duration_estimate(*, users: int, samples: list[Sample] | None = None) -> Estimate:
    """The expected duration of an upgrade of `users` licenses, with a range."""
    samples = samples_recent() if samples is None else samples
    if not samples:
        per_user, fixed = _default_per_user(), _default_fixed()
        expected = fixed + per_user * users
        low, high = DEFAULT_SPREAD
        return Estimate(users, expected, expected * low, expected * high, per_user, fixed, 0)
    move_fixed, per_user = _fit(samples)
    fixed = statistics.median(s.fixed for s in samples) + move_fixed
    expected = fixed + per_user * users
    # How far each learnt run was from what the fit predicts for it.
    ratios = [
        (s.move + s.fixed) / predicted
        for s in samples
        if (predicted := fixed + per_user * s.users) > 0
    ] or [1.0]
    low = min(min(ratios), 1.0 - MIN_SPREAD)
    high = max(max(ratios), 1.0 + MIN_SPREAD)
    return Estimate(users, expected, expected * low, expected * high, per_user, fixed, len(samples))


def remaining_seconds(*, run: UpgradeRun, now: dt.datetime) -> float | None:
    """What is left of an active run, from its own fields (no query: the status poll calls
    it). While licenses move, the rate measured so far in this run drives it; before that,
    the estimate stored when the order was placed. None when there is nothing to say (a run
    that is not working: scheduled, waiting for a credit check, or finished)."""
    if run.is_terminal or run.work_started_at is None:
        return None
    estimate = Estimate.from_json(run.estimate)
    if run.state == RunState.MOVING_LICENSES and run.move_started_at and run.moved:
        elapsed = _seconds(run.move_started_at, now) or 0.0
        rate = run.moved / elapsed if elapsed > 0 else 0.0
        left_to_move = (run.total - run.moved) / rate if rate > 0 else 0.0
        tail = estimate.fixed / 2 if estimate else 0.0
        return left_to_move + tail
    if estimate is None:
        return None
    elapsed = _seconds(run.work_started_at, now) or 0.0
    if run.move_finished_at is not None:
        return max(estimate.fixed / 2 - _seconds(run.move_finished_at, now), 0.0)
    return max(estimate.seconds - elapsed, 0.0)


def duration_words(seconds: float | None) -> str:
    """A duration as an admin reads it: "under a second", "40 seconds", "3 minutes",
    "2 hours 5 minutes". Rounded up: an estimate should not promise less than it means."""
    if seconds is None:
        return ""
    seconds = max(seconds, 0.0)
    if seconds < 1:
        return _("under a second")
    if seconds < 60:
        n = math.ceil(seconds)
        return ngettext("%(n)d second", "%(n)d seconds", n) % {"n": n}
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    words = ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    if minutes:
        words = _("%(hours)s %(minutes)s") % {
            "hours": words,
            "minutes": ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes},
        }
    return words
