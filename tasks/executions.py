"""Execution tasks: they take ids and call the executions service under the worker's app."""

from huey import crontab

from portal.services import events, executions
from tasks.queue import app, huey

DELAYED_PASS_FLAG = "jsr-delayed-run-due"


@huey.task(retries=0)
def run_execution(execution_id: str) -> str:
    """Run a pending execution, with a batch of other due ones (executions.execute_batch); one the batch
    found cancelled or already claimed is left as it is, one over quota is queued again a moment later."""
    with app().app_context():
        execution, *others = executions.execute_batch(execution_id)
        if execution.status == "pending":  # over its tenant's or script's quota: it waits in the queue
            run_execution_later(execution.id, executions.QUOTA_RETRY_SECONDS)
        _follow_up([execution, *others])
        return execution.status


@huey.task(retries=0)
def run_due_executions(delayed: bool = False) -> int:
    """Run due pending executions in batches until none is left to claim (executions.run_due)."""
    if delayed:
        huey.get(DELAYED_PASS_FLAG)  # another delayed pass may be queued from now on
    with app().app_context():
        ran = executions.run_due()
        _follow_up(ran)
        return len(ran)


def run_due_executions_later(delay_seconds: float) -> None:
    """Queue a run_due pass `delay_seconds` from now, unless one is queued already (across the cluster: a
    flag in the queue's storage, taken back when that pass starts), so waiting runs never multiply passes."""
    if huey.put_if_empty(DELAYED_PASS_FLAG, "1"):
        run_due_executions.schedule(args=(True,), delay=delay_seconds)


def _follow_up(ran) -> None:
    """Each failed event delivery is followed by its next attempt or its dead letter."""
    for execution in ran:
        if execution.trigger == "event" and execution.status in events.RETRYABLE:
            events.follow_up(execution.id)


def run_execution_later(execution_id: str, delay_seconds: float) -> None:
    """Queue a run to start `delay_seconds` from now (an event's next attempt)."""
    run_execution.schedule(args=(execution_id,), delay=delay_seconds)


@huey.periodic_task(crontab(minute="*"), retries=0)
def relay_executions() -> int:
    """Every minute: hand over again the pending runs whose queueing was lost (executions.relay_pending)."""
    with app().app_context():
        return executions.relay_pending()


@huey.periodic_task(crontab(minute="*"), retries=0)
@huey.lock_task("reap-stale-executions")
def reap_stale_executions() -> int:
    """Every minute: executions whose worker died are marked failed (idempotent, any number of workers);
    the event deliveries among them are retried."""
    with app().app_context():
        reaped = executions.reap_stale()
        for execution_id in reaped:
            events.follow_up(execution_id)
        return len(reaped)


@huey.periodic_task(crontab(minute="17", hour="3"), retries=0)
@huey.lock_task("cleanup-executions")
def cleanup_executions() -> int:
    """Daily: finished executions past their tenant's retention period are deleted (`jsr cleanup` does it
    on demand)."""
    with app().app_context():
        return executions.cleanup()
