"""The scheduler's periodic task: every minute, on every consumer (the claim makes that safe)."""

from huey import crontab

from portal.services import scheduler
from tasks.queue import app, huey


@huey.periodic_task(crontab(minute="*"), retries=0)
def scheduler_tick() -> int:
    """Fire the scheduled scripts that are due; returns how many runs were queued."""
    with app().app_context():
        return len(scheduler.tick().fired)
