"""The upgrade run's one transition table. Every state change goes through run_transition,
which rejects illegal moves and writes a history row."""

from django.utils.translation import gettext as _

from portal import clock
from portal.errors import DomainError

from .models import TERMINAL_STATES, RunState, UpgradeRun, UpgradeRunEvent

# The steps in the order the status page shows them.
STEPS = [
    RunState.PLACED,
    RunState.AWAITING_CREDIT_CHECK,
    RunState.PROVISIONING,
    RunState.MOVING_LICENSES,
    RunState.REMOVING_ADDONS,
    RunState.CANCELLING_SOURCE,
    RunState.COMPLETED,
]
# Where a retry of a failed run may resume.
RESUMABLE = frozenset(
    {
        RunState.PLACED,
        RunState.PROVISIONING,
        RunState.MOVING_LICENSES,
        RunState.REMOVING_ADDONS,
        RunState.CANCELLING_SOURCE,
    }
)

TRANSITIONS: dict[str, frozenset[str]] = {
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
    RunState.FAILED: RESUMABLE,
}


def run_transition(*, run: UpgradeRun, to: str, actor=None, reason: str = "") -> UpgradeRun:
    """Caller owns the transaction and holds the run's row lock."""
    current = run.state
    if to not in TRANSITIONS[current]:
        raise DomainError(
            _("An upgrade cannot go from “%(from)s” to “%(to)s”.")
            % {"from": RunState(current).label, "to": RunState(to).label},
            code="illegal_transition",
        )
    now = clock.now()
    run.state = to
    fields = ["state"]
    if to in TERMINAL_STATES:
        run.finished_at = now
        fields.append("finished_at")
    run.save(update_fields=fields)
    UpgradeRunEvent.objects.create(
        run=run,
        from_state=current,
        to_state=to,
        at=now,
        actor=actor if actor is not None and actor.is_authenticated else None,
        reason=reason,
    )
    return run
