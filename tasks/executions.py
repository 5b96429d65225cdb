"""Execution tasks: they take ids and call the executions service under the worker's app."""

from portal.services import executions
from tasks.queue import app, huey


@huey.task(retries=0)
def run_execution(execution_id: str) -> str:
    """Run one pending execution; a cancelled or already-claimed one is left as it is."""
    with app().app_context():
        return executions.execute(execution_id).status
