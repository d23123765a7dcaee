"""The upgrade run's one transition table. Every state change goes through run_transition,
which rejects illegal moves and writes a history row."""

from django.utils.translation import gettext_lazy as _

from portal import clock
from portal.actors import recorded_actor
from portal.transitions import TransitionTable, transition_apply

from .models import TERMINAL_STATES, RunState, UpgradeRun, UpgradeRunEvent

# The steps in the order the status page shows them.
STEPS = [
    RunState.SCHEDULED,
    RunState.PLACED,
    RunState.AWAITING_CREDIT_CHECK,
    RunState.PROVISIONING,
    RunState.MOVING_LICENSES,
    RunState.REMOVING_ADDONS,
    RunState.CANCELLING_SOURCE,
    RunState.COMPLETED,
]
# Where a retry of a failed run starts: a failure undoes everything, so a retry starts over
# (from provisioning, or from the start when nothing was bought yet), never mid-way.
RESUMABLE = frozenset({RunState.PLACED, RunState.PROVISIONING})

TRANSITIONS = TransitionTable(
    choices=RunState,
    allowed={
        # FAILED: what would stop it holds when its window starts (nothing is charged yet).
        RunState.SCHEDULED: frozenset({RunState.PLACED, RunState.CANCELLED, RunState.FAILED}),
        RunState.PLACED: frozenset(
            {RunState.AWAITING_CREDIT_CHECK, RunState.PROVISIONING, RunState.FAILED}
        ),
        RunState.AWAITING_CREDIT_CHECK: frozenset(
            {RunState.PROVISIONING, RunState.DECLINED, RunState.FAILED}
        ),
        RunState.PROVISIONING: frozenset({RunState.MOVING_LICENSES, RunState.FAILED}),
        RunState.MOVING_LICENSES: frozenset({RunState.REMOVING_ADDONS, RunState.FAILED}),
        RunState.REMOVING_ADDONS: frozenset({RunState.CANCELLING_SOURCE, RunState.FAILED}),
        RunState.CANCELLING_SOURCE: frozenset({RunState.COMPLETED, RunState.FAILED}),
        RunState.COMPLETED: frozenset(),
        RunState.DECLINED: frozenset(),
        RunState.CANCELLED: frozenset(),
        RunState.FAILED: RESUMABLE,
    },
    illegal_message=_("An upgrade cannot go from “%(from)s” to “%(to)s”."),
)


def step_times_entered(times: dict, to: str, at) -> dict:
    """The run's step times once it enters `to` at `at`. A retry starts a step over: the times
    of the steps after it belong to the failed attempt and are dropped."""
    times = dict(times or {})
    if to in STEPS:
        for later in STEPS[STEPS.index(to) + 1 :]:
            times.pop(later, None)
    times[to] = at.isoformat()
    return times


def run_transition(*, run: UpgradeRun, to: str, actor=None, reason: str = "") -> UpgradeRun:
    """Caller owns the transaction and holds the run's row lock."""
    now = clock.now()
    also_set = {"step_times": step_times_entered(run.step_times, to, now)}
    if to in TERMINAL_STATES:
        also_set["finished_at"] = now
    transition_apply(
        table=TRANSITIONS,
        instance=run,
        field="state",
        to=to,
        also_set=also_set,
        record=lambda previous: UpgradeRunEvent.objects.create(
            run=run,
            from_state=previous,
            to_state=to,
            at=now,
            actor=recorded_actor(actor),
            reason=reason,
        ),
    )
    return run
