"""The outbox: publishing a domain event is writing its row in the transaction of the change that caused it.

So the event exists exactly when that change was committed: a rolled-back change publishes nothing.
After the commit the ids of the events it published are handed to the queue together (one `deliver_events`
task per commit; portal/services/events.py does the delivery); should the queue be down, the relay task
finds events still `pending` a minute later and hands them over again, so an outage delays events without
losing them.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.extensions import db
from portal.models import Event, Script
from portal.models.tenant import new_id
from portal.services import script_caches
from portal.services.errors import ValidationError
from portal.services.inputs import json_error
from portal.services.scope import in_system

TYPE_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
MAX_TYPE_LENGTH = 200
DELIVER_KEY = "jsr.deliver_events"  # callable(event_ids) that queues their delivery; bound by create_app
RELAY_BATCH = 100  # events handed over in one delivery by the relay
OUTBOX = "jsr_outbox"  # session.info key: ids of the events this transaction published
RELAY_AFTER = timedelta(seconds=60)  # an event still pending this long after its commit missed its queueing


def publish(tenant_id: str, type: str, payload: Any = None, *, depth: int = 0) -> Event:
    """Add an event to the current transaction; it is queued for delivery once that transaction commits.

    An event no active event script of the tenant subscribes to is written delivered (to nobody) and not
    queued: the portal's own execution.* events cost no delivery task where nothing listens. Subscriptions
    are cached per process (script_caches): a script activated in another process receives events
    published here from at most JSR_HOOK_CACHE_S seconds later."""
    if not isinstance(type, str) or len(type) > MAX_TYPE_LENGTH or not TYPE_RE.match(type):
        raise ValidationError({"type": _l("An event type looks like order.paid: lowercase words separated by dots.")})
    if (message := json_error(payload)) is not None:
        raise ValidationError({"payload": message})
    maximum = current_app.config["JSR_EVENT_MAX_DEPTH"]
    if depth > maximum:
        raise ValidationError({"depth": _l("Events may lead to other events at most %(depth)s deep.",
                                           depth=maximum)})
    if not any(matches(pattern, type) for pattern in _subscriptions(tenant_id)):
        event = Event(id=new_id(), tenant_id=tenant_id, type=type, payload=payload, depth=depth,
                      status="delivered", delivered_at=datetime.now(UTC))
        db.session.add(event)
        return event
    event = Event(id=new_id(), tenant_id=tenant_id, type=type, payload=payload, depth=depth, status="pending")
    db.session.add(event)
    db.session.info.setdefault(OUTBOX, []).append(event.id)
    return event


def matches(pattern: str, type_: str) -> bool:
    if pattern == "*":
        return True
    wanted, given = pattern.split("."), type_.split(".")
    return len(wanted) == len(given) and all(w in ("*", g) for w, g in zip(wanted, given, strict=True))


def _subscriptions(tenant_id: str) -> tuple[str, ...]:
    """The event patterns of the tenant's active event scripts."""
    def load() -> tuple[str, ...]:
        rows = db.session.scalars(select(Script.event_patterns).where(
            Script.tenant_id == tenant_id, Script.type == "event", Script.status == "active"))
        return tuple(pattern for patterns in rows for pattern in patterns or ())

    return script_caches.cached("event-subscriptions", tenant_id, load)


def _after_commit(session: Session) -> None:
    published = session.info.pop(OUTBOX, [])
    if published and has_app_context():
        _queue(published)


def _after_rollback(session: Session) -> None:
    session.info.pop(OUTBOX, None)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)


def _queue(event_ids: list[str]) -> None:
    try:
        current_app.extensions[DELIVER_KEY](event_ids)
    except Exception:  # the queue is down: the relay hands the events over later
        current_app.logger.exception("events %s could not be queued; the relay will retry", event_ids)


@in_system
def relay_stale(now: datetime | None = None) -> int:
    """Queue again the events still pending RELAY_AFTER after they were written; returns how many."""
    cutoff = (now or datetime.now(UTC)) - RELAY_AFTER
    stale = list(db.session.scalars(select(Event.id).where(Event.status == "pending", Event.created_at < cutoff)
                                    .order_by(Event.created_at).limit(1000)))
    db.session.commit()
    for first in range(0, len(stale), RELAY_BATCH):
        _queue(stale[first:first + RELAY_BATCH])
    return len(stale)
