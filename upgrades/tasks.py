"""Thin Celery tasks: load by id, call the engine or a service. Late acks are safe because
every step is idempotent; the reconciler, not broker redelivery, keeps stopped runs moving.
No task stores a result: nothing reads them, and a result backend that is down must not make
sending or finishing a task fail."""

from celery import shared_task

from . import engine, services

# Backoff for a run that hit a transient error (database or broker gone): 1, 2, 4 ... 60 s.
MAX_BACKOFF_SECONDS = 60
# An unexpected error is retried this often by the task; should failing the run itself keep
# failing, the task then stops and the reconciler takes over at its own pace.
MAX_INTERNAL_RETRIES = 5


def retry_delay(retries: int) -> int:
    return min(2**retries, MAX_BACKOFF_SECONDS)


@shared_task(
    bind=True, name=services.RUN_ADVANCE_TASK, acks_late=True, ignore_result=True, max_retries=None
)
def upgrade_run_advance(self, run_id: int):
    try:
        return engine.run_advance(run_id=run_id)
    except Exception as exc:
        # Transient errors retry with backoff; an unexpected one is tried again soon, and the
        # engine fails the run once it repeats. Should the broker be gone too, the
        # reconciler re-sends the run when its heartbeat goes stale.
        if isinstance(exc, engine.TRANSIENT_ERRORS):
            raise self.retry(exc=exc, countdown=retry_delay(self.request.retries)) from exc
        if self.request.retries >= MAX_INTERNAL_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=1) from exc


@shared_task(name="upgrades.tasks.upgrade_runs_reconcile", ignore_result=True)
def upgrade_runs_reconcile():
    return services.upgrade_runs_reconcile()
