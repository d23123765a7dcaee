"""State machines as data. Each stateful model (a subscription's status, an upgrade run's
state) declares one TransitionTable; every change goes through transition_apply, which refuses
an illegal move with a DomainError fit to show an admin and records the change in the model's
history table, so no state is ever set by hand."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db import models
from django.utils.functional import Promise

from .errors import DomainError


@dataclass(frozen=True)
class TransitionTable:
    choices: type[models.TextChoices]
    allowed: Mapping[str, frozenset[str]]
    # Shown when a move is refused; %(from)s and %(to)s are the states' labels.
    illegal_message: Promise

    def check(self, current: str, to: str) -> None:
        if to not in self.allowed[current]:
            raise DomainError(
                str(self.illegal_message)
                % {"from": self.choices(current).label, "to": self.choices(to).label},
                code="illegal_transition",
            )


def transition_apply(
    *,
    table: TransitionTable,
    instance: models.Model,
    field: str,
    to: str,
    record: Callable[[str], object],
    also_set: Mapping[str, object] | None = None,
) -> str:
    """Move `instance.<field>` to `to` and set the `also_set` fields with it (nothing is touched
    when the move is illegal), save them, and call `record(previous_state)` to write the history
    row. The caller owns the transaction and holds the row's lock. Returns the previous state."""
    current = getattr(instance, field)
    table.check(current, to)
    changes = {field: to, **(also_set or {})}
    for name, value in changes.items():
        setattr(instance, name, value)
    instance.save(update_fields=list(changes))
    record(current)
    return current
