"""Execution tasks: they take ids and call the executions service under the worker's app."""

from huey import crontab

from portal.services import executions
from tasks.queue import app, huey


@huey.task(retries=0)
def run_execution(execution_id: str) -> str:
    """Run one pending execution; a cancelled or already-claimed one is left as it is."""
    with app().app_context():
        return executions.execute(execution_id).status


@huey.periodic_task(crontab(minute="*"), retries=0)
@huey.lock_task("reap-stale-executions")
def reap_stale_executions() -> int:
    """Every minute: executions whose worker died are marked failed (idempotent, any number of workers)."""
    with app().app_context():
        return executions.reap_stale()
