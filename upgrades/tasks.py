"""Thin Celery tasks: load by id, call the engine or a service. Late acks are safe because
every step is idempotent; the reconciler, not broker redelivery, keeps stopped runs moving."""

from celery import shared_task

from . import engine, services


@shared_task(name=services.RUN_ADVANCE_TASK, acks_late=True)
def upgrade_run_advance(run_id: int):
    return engine.run_advance(run_id=run_id)


@shared_task(name="upgrades.tasks.upgrade_runs_reconcile")
def upgrade_runs_reconcile():
    return services.upgrade_runs_reconcile()
