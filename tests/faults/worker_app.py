"""The project's Celery app with fault hooks, for the fault-injection suite only:
`celery -A tests.faults.worker_app worker`. The faults to fire are read from the JSON file
named by FAULT_PLAN; each fires once (it is removed from the file before it fires), so a worker
started after a kill, or a retried run, runs clean.

    {"kill_after": "<state>"}     SIGKILL once the step of that state has committed
    {"kill_in_move": <n>}         SIGKILL inside the n-th license batch, before it commits
    {"raise_at": "<state>"}       the step of that state fails (a domain error); provisioning
                                  fails once the new plan is bought and paid
"""

import json
import os
import signal
from pathlib import Path

from celery.signals import task_prerun

from config.celery import app

__all__ = ["app"]

PLAN = Path(os.environ.get("FAULT_PLAN", "/nonexistent"))
_installed = False


def _plan() -> dict:
    try:
        return json.loads(PLAN.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _take(kind: str):
    plan = _plan()
    fault = plan.pop(kind, None)
    if fault is not None:
        tmp = PLAN.with_suffix(".tmp")
        tmp.write_text(json.dumps(plan))
        tmp.replace(PLAN)
    return fault


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@task_prerun.connect
def _install(**kwargs) -> None:
    """Patch the engine once Django is set up (the first task of this solo worker)."""
    global _installed
    if _installed:
        return
    _installed = True
    from portal.errors import DomainError
    from upgrades import engine
    from upgrades.models import UpgradeRun

    run_step, move_batch = engine.run_step, engine._move_batch
    batches = {"n": 0}

    def run_step_with_faults(*, run_id):
        before = UpgradeRun.objects.filter(pk=run_id).values_list("state", flat=True).first()
        outcome = run_step(run_id=run_id)
        if outcome is not None and outcome.state != before and _plan().get("kill_after") == before:
            _take("kill_after")
            _die()
        return outcome

    def move_batch_with_faults(*, run, limit):
        result = move_batch(run=run, limit=limit)
        batches["n"] += 1
        if _plan().get("kill_in_move") == batches["n"]:
            _take("kill_in_move")
            _die()  # the batch's UPDATE is not committed: it never happened
        return result

    def failing(state, handler):
        def step(run):
            paid = run.new_subscription_id is not None
            outcome = handler(run)
            if _plan().get("raise_at") == state and (state != "provisioning" or paid):
                _take("raise_at")
                raise DomainError("The simulated service refused the change.", code="injected")
            return outcome

        return step

    engine.run_step = run_step_with_faults
    engine._move_batch = move_batch_with_faults
    for state, handler in list(engine.STEP_HANDLERS.items()):
        engine.STEP_HANDLERS[state] = failing(state, handler)
