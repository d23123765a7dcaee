"""Thin Celery tasks: load by id, call the engine or a service. Late acks are safe because
every step is idempotent; the reconciler, not broker redelivery, keeps stopped runs moving."""

from celery import shared_task


@shared_task(name="upgrades.tasks.upgrade_run_advance", acks_late=True)
def upgrade_run_advance(run_id: int):
    from .engine import run_advance

    return run_advance(run_id=run_id)


@shared_task(name="upgrades.tasks.upgrade_runs_reconcile")
def upgrade_runs_reconcile():
    from .services import upgrade_runs_reconcile as reconcile

    return reconcile()
