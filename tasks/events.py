"""Event tasks: deliver a published event, and every minute relay the events a queue outage held back."""

from huey import crontab

from portal.services import events, outbox
from tasks.queue import app, huey


@huey.task(retries=0)
def deliver_events(event_ids: list[str]) -> int:
    """Queue one run per active event script matching each event (published together); returns how many."""
    with app().app_context():
        return len(events.deliver(event_ids))


@huey.periodic_task(crontab(minute="*"), retries=0)
def relay_events() -> int:
    """Queue again the events still pending a minute after they were published."""
    with app().app_context():
        return outbox.relay_stale()
