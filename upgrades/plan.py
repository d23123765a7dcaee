"""The upgrade's plan: what a run would do and why it could not, computed by the same
functions the engine's steps call. A rehearsal evaluates them without changing anything; the
engine evaluates them at the step that acts on them."""

from dataclasses import dataclass

from .models import UpgradeRun


@dataclass(frozen=True)
class Blocker:
    """A reason the run would fail if it started now: a code and a sentence for the admin."""

    code: str
    message: str


def run_blockers(*, run: UpgradeRun) -> list[Blocker]:
    """What would make this placed or scheduled run fail if it started now (none: it would
    go through). Used for the warnings on a scheduled run and when its window starts."""
    return []
