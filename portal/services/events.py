"""Domain events after publishing (portal/services/outbox.py): delivery to matching event scripts, retries,
dead letters, replay; and the API's publishing.

Delivery claims the event once (pending → delivered) and records one execution per matching active
`event` script (trigger `event`, attempt 1), whose handler gets `onEvent(event, ctx)` with
`event = {id, type, payload, occurredAt, depth}`. A failed or timed-out attempt is followed up once
(`follow_up`, after every queued run and for runs the reaper failed): another attempt after
JSR_RETRY_DELAY_S · 2^(attempt-1) seconds while attempts ≤ JSR_EVENT_RETRIES, then a dead letter with the
payload, the last error and the number of attempts. Dead letters can be replayed (optionally with an
edited payload; the replay is a new delivery to the same script, with its own retries), in batches, or
discarded; each replay is linked to its dead letter and audited.

Patterns: `*` matches every type; otherwise patterns and types are dot-separated segments of equal
number, and a `*` segment matches any one segment (`order.*` matches `order.paid`, not `order` nor
`order.paid.late`).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import DeadLetter, Event, Execution, Script, Tenant
from portal.models.tenant import new_id
from portal.services import audit, executions, metrics, outbox, rbac
from portal.services.errors import Conflict, ValidationError
from portal.services.inputs import is_id, json_error, require_id, require_text, utc_time
from portal.services.outbox import MAX_TYPE_LENGTH, matches
from portal.services.queries import page, tenant_row, where_given
from portal.services.rbac import Actor
from portal.services.scope import in_system, in_tenant

MAX_BATCH = 100  # events in one POST /events, dead letters in one batch replay
RETRYABLE = ("failed", "timeout")


# -- the API's publishing ----------------------------------------------------------------
@in_tenant
def publish_many(actor: Actor, tenant_id: str, items: list[Any]) -> list[Event]:
    """POST /events: one `{type, payload}` or a list of them, committed together."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    if not items or len(items) > MAX_BATCH or not all(isinstance(item, dict) for item in items):
        raise ValidationError({"events": _l("Send 1 to %(count)s objects with a type and a payload.",
                                            count=MAX_BATCH)})
    published = [outbox.publish(tenant_id, item.get("type"), item.get("payload")) for item in items]
    db.session.commit()
    return published


# -- a run's publishing ------------------------------------------------------------------
@in_tenant
def publish_from_run(tenant_id: str, run: dict[str, Any], type: Any, payload: Any = None) -> dict[str, Any]:
    """`ctx.events.publish(type, payload)`: `run` is the host's copy of the run's context, never the script's.

    An event published by a run that an event started is one deeper than that event, so a chain of
    event scripts publishing events ends at JSR_EVENT_MAX_DEPTH (outbox.publish refuses beyond it);
    any other run starts a chain at depth 0, as the API does."""
    trigger = run.get("trigger") or {}
    depth = trigger.get("depth", 0) + 1 if trigger.get("type") == "event" else 0
    event = outbox.publish(tenant_id, type, payload, depth=depth)
    db.session.commit()
    return {"id": event.id, "type": event.type, "depth": event.depth}


# -- delivery ------------------------------------------------------------------------------
def event_object(event: Event) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "payload": event.payload,
            "occurredAt": event.created_at.isoformat().replace("+00:00", "Z"), "depth": event.depth}


@in_system
def deliver(event_ids: list[str]) -> list[str]:
    """Claim the pending events among `event_ids` and queue one run per matching script, in one transaction;
    returns the execution ids. An event delivered already (a relay raced its first queueing) is skipped."""
    claimed = list(db.session.scalars(update(Event).where(Event.id.in_(event_ids), Event.status == "pending")
                                      .values(status="delivered", delivered_at=datetime.now(UTC))
                                      .returning(Event.id)))
    if not claimed:
        db.session.commit()
        return []
    delivered = db.session.scalars(select(Event).where(Event.id.in_(claimed)).order_by(Event.created_at)
                                   .execution_options(populate_existing=True)).all()
    subscribers = {tenant_id: _subscribers(tenant_id) for tenant_id in {event.tenant_id for event in delivered}}
    runs = [_attempt(script, event, 1) for event in delivered for script in subscribers[event.tenant_id]
            if any(matches(pattern, event.type) for pattern in script.event_patterns or ())]
    db.session.commit()
    if runs:
        executions.wake(len(runs))
    return [execution.id for execution in runs]


def _subscribers(tenant_id: str) -> list[Script]:
    """The active event scripts of a tenant, if the tenant is active."""
    return list(db.session.scalars(
        select(Script).join(Tenant, Tenant.id == Script.tenant_id)
        .where(Script.tenant_id == tenant_id, Script.type == "event", Script.status == "active",
               Tenant.active.is_(True))))


def _attempt(script: Script, event: Event, attempt: int, input: Any = None, delay_s: float = 0) -> Execution:
    """A pending execution of one attempt at an event (added to the session; written by its commit)."""
    execution = Execution(id=new_id(), tenant_id=script.tenant_id, script_id=script.id,
                          script_version=script.current_version, status="pending", trigger="event",
                          event_id=event.id, attempt=attempt, input=input if input is not None else event_object(event),
                          logs=[], queued_at=datetime.now(UTC) + timedelta(seconds=delay_s))
    db.session.add(execution)
    return execution


@in_system
def follow_up(execution_id: str) -> str | None:
    """After an event run ended: the next attempt's execution id, 'dead-letter', or None (nothing to do).

    Idempotent: the database refuses a second next attempt or a second dead letter."""
    execution = db.session.get(Execution, execution_id, populate_existing=True)
    if execution is None or execution.trigger != "event" or execution.status not in RETRYABLE:
        db.session.commit()
        return None
    event = db.session.get(Event, execution.event_id) if execution.event_id else None
    script = db.session.get(Script, execution.script_id)
    config = current_app.config
    try:
        if event is not None and execution.attempt <= config["JSR_EVENT_RETRIES"]:
            delay = config["JSR_RETRY_DELAY_S"] * 2 ** (execution.attempt - 1)
            retry = _attempt(script, event, execution.attempt + 1, execution.input, delay)
            db.session.commit()
            current_app.extensions[executions.LATER_KEY](retry.id, delay)
            metrics.RETRIES.labels(execution.tenant_id).inc()
            return retry.id
        payload = (execution.input or {}).get("payload") if isinstance(execution.input, dict) else None
        db.session.add(DeadLetter(tenant_id=execution.tenant_id, script_id=execution.script_id,
                                  execution_id=execution.id, event_id=execution.event_id,
                                  event_type=event.type if event else "", payload=payload,
                                  error=execution.error, attempts=execution.attempt))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None  # followed up already
    metrics.DEAD_LETTERS.labels(execution.tenant_id).inc()
    return "dead-letter"


# -- dead letters --------------------------------------------------------------------------
def _filtered(tenant_id: str, script_id: str | None, event_type: str | None, since: datetime | None,
              until: datetime | None, status: str | None, ids: list[str] | None = None):
    require_id("script_id", script_id)
    require_text("event_type", event_type, MAX_TYPE_LENGTH)
    if status is not None and status not in ("dead", "replayed"):
        raise ValidationError({"status": _l("Choose one of: %(choices)s.", choices="dead, replayed")})
    query = where_given(select(DeadLetter).where(DeadLetter.tenant_id == tenant_id),
                        (DeadLetter.script_id, script_id), (DeadLetter.event_type, event_type),
                        (DeadLetter.status, status))
    if since:
        query = query.where(DeadLetter.created_at >= utc_time("since", since))
    if until:
        query = query.where(DeadLetter.created_at < utc_time("until", until))
    if ids is not None:
        if not ids or len(ids) > MAX_BATCH or not all(is_id(item) for item in ids):
            raise ValidationError({"ids": _l("Choose 1 to %(count)s dead letters.", count=MAX_BATCH)})
        query = query.where(DeadLetter.id.in_(ids))
    return query


@in_tenant
def list_dead_letters(actor: Actor, tenant_id: str, *, script_id: str | None = None, event_type: str | None = None,
                      since: datetime | None = None, until: datetime | None = None, status: str | None = None,
                      limit: int = 50, offset: int = 0) -> list[DeadLetter]:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    query = _filtered(tenant_id, script_id, event_type, since, until, status)
    return list(db.session.scalars(page(query.order_by(DeadLetter.created_at.desc()), limit, offset)))


@in_tenant
def count_dead_letters(actor: Actor, tenant_id: str, *, script_id: str | None = None, event_type: str | None = None,
                       since: datetime | None = None, until: datetime | None = None,
                       status: str | None = None) -> int:
    """How many dead letters the filters select: the number a batch replay asks the user to confirm."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    query = _filtered(tenant_id, script_id, event_type, since, until, status)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


@in_tenant
def get_dead_letter(actor: Actor, tenant_id: str, dead_letter_id: str) -> DeadLetter:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    return _dead_letter(tenant_id, dead_letter_id)


def _dead_letter(tenant_id: str, dead_letter_id: str) -> DeadLetter:
    return tenant_row(DeadLetter, tenant_id, dead_letter_id, _l("Dead letter not found."))


_UNCHANGED = object()


@in_tenant
def replay(actor: Actor, tenant_id: str, dead_letter_id: str, payload: Any = _UNCHANGED) -> Execution:
    """Deliver a dead letter's event again to its script, with `payload` instead when given."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    execution = _replay(actor, _dead_letter(tenant_id, dead_letter_id), payload)
    db.session.commit()
    executions.dispatch(execution.id)
    return execution


@in_tenant
def replay_many(actor: Actor, tenant_id: str, *, script_id: str | None = None, event_type: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                ids: list[str] | None = None) -> list[Execution]:
    """Replay every dead (not yet replayed) letter matching the filters, up to MAX_BATCH at a time; with
    `ids`, only those among them (the portal's checkboxes). All of them or none: one commit."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    letters = db.session.scalars(_filtered(tenant_id, script_id, event_type, since, until, "dead", ids)
                                 .order_by(DeadLetter.created_at).limit(MAX_BATCH))
    replayed = [_replay(actor, letter, _UNCHANGED) for letter in letters]
    db.session.commit()
    for execution in replayed:
        executions.dispatch(execution.id)
    return replayed


def _replay(actor: Actor, letter: DeadLetter, payload: Any) -> Execution:
    if letter.status != "dead":
        raise Conflict(_l("This dead letter was replayed already."), field="status")
    if payload is not _UNCHANGED and (message := json_error(payload)) is not None:
        raise ValidationError({"payload": message})
    script = db.session.get(Script, letter.script_id) if letter.script_id else None
    if script is None or script.status in ("disabled", "archived"):
        raise Conflict(_l("The script of this dead letter no longer runs."), field="script_id")
    original = db.session.get(Event, letter.event_id) if letter.event_id else None
    # A new event, delivered to this script only: the replay has its own attempts.
    event = Event(tenant_id=letter.tenant_id, type=letter.event_type or "replay",
                  payload=letter.payload if payload is _UNCHANGED else payload,
                  depth=original.depth if original else 0, status="delivered", delivered_at=datetime.now(UTC))
    db.session.add(event)
    db.session.flush()
    execution = _attempt(script, event, 1)
    won = db.session.execute(update(DeadLetter).where(DeadLetter.id == letter.id, DeadLetter.status == "dead")
                             .values(status="replayed", replay_execution_id=execution.id,
                                     replayed_at=datetime.now(UTC)))
    if won.rowcount != 1:
        db.session.rollback()
        raise Conflict(_l("This dead letter was replayed already."), field="status")
    audit.record(actor, "dead_letter.replay", tenant_id=letter.tenant_id, target_type="dead_letter",
                 target_id=letter.id, summary=f"replayed {letter.event_type} to script {script.name!r}"
                 + ("" if payload is _UNCHANGED else " with an edited payload"),
                 details={"execution_id": execution.id, "edited": payload is not _UNCHANGED})
    return execution


@in_tenant
def discard(actor: Actor, tenant_id: str, dead_letter_id: str) -> None:
    rbac.require(actor, rbac.SCRIPTS_DELETE, tenant_id)
    letter = _dead_letter(tenant_id, dead_letter_id)
    audit.record(actor, "dead_letter.discard", tenant_id=tenant_id, target_type="dead_letter",
                 target_id=letter.id, summary=f"discarded {letter.event_type} after {letter.attempts} attempts")
    db.session.delete(letter)
    db.session.commit()
