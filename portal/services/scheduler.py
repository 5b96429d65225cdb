"""The scheduler: one pass fires every due scheduled script once, safely from any number of processes.

A pass (`tick`) runs every minute on every Huey consumer (tasks.scheduler) and on demand from
`flask --app app jsr tick [--now ISO]`. Two passes at the same moment cannot both fire a slot:

* the due rows are read with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so a second pass skips the rows
  the first holds, and a row the first has advanced is no longer due when the second reads it;
* on SQLite the pass reads them under the database's write lock (BEGIN IMMEDIATE), so a second pass
  reads only after the first committed;
* behind both, the database refuses a second execution of one (script, slot).

So the pass is set-based: one query counts the batch of due scripts per group (expression and time zone:
a few distinct values) and slot; each group's next slot is computed once with croniter;
then per group one INSERT … SELECT writes its runs (ids made by the database) and one UPDATE … FROM
the new runs claims their scripts (next slot, overlap lock naming the run). No statement parameter is
built per script, and the queue gets a few wake-ups (`executions.wake`) instead of one task per run.

A script whose previous run is still queued or running is skipped for that slot (the overlap lock
`locked_until`/`locked_by`, set at the claim and released when the run ends; it expires on its own
after the script's time limit plus JSR_SCHEDULE_LOCK_GRACE_S, when the worker died). After downtime a
script fires once for the oldest slot it missed, not once per slot, and its next slot is the first one
after the pass's time. The schedule preview is `cron.upcoming_runs(expression, tz, n)`.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from croniter import CroniterError
from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    String,
    Update,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)

from portal.extensions import db
from portal.models import Execution, Script, Tenant
from portal.models.tenant import UTCDateTime, new_id_sql
from portal.services import cron, executions, metrics
from portal.services import runtime as runtime_service
from portal.services.scope import in_system

SCRIPTS, RUNS = Script.__table__, Execution.__table__


@dataclass
class TickResult:
    fired: list[str] = field(default_factory=list)  # ids of the executions enqueued
    skipped: list[str] = field(default_factory=list)  # ids of scripts whose previous run still holds the lock


@in_system
def tick(now: datetime | None = None) -> TickResult:
    """Fire every due active scheduled script of an active tenant once, as if the time were `now`."""
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    result = TickResult()
    dialect = db.session.get_bind().dialect.name
    if dialect != "postgresql":
        _write_lock_sqlite()
    slots = db.session.execute(_batch(now, dialect)).all()
    if slots:
        queued_at = datetime.now(UTC)  # real time, whatever `now` the pass runs as
        # The batch's last (slot, id); ids are new_id()'s lowercase UUIDs, ordered alike here and in the database.
        last = max((slot.next_run_at, slot.last_id) for slot in slots)
        for expression, timezone in {(slot.cron_expression, slot.timezone) for slot in slots}:
            group = (*_due(now), Script.cron_expression == expression, Script.timezone == timezone,
                     tuple_(Script.next_run_at, Script.id) <= tuple_(*last))
            following = _following(expression, timezone, now)
            fired = db.session.scalars(_fire(group, now, queued_at, dialect)).all()
            if fired:
                db.session.execute(_claim(group, following, _lock_until(now, dialect)))
            result.fired += fired
            result.skipped += db.session.scalars(_skip(group, now, following, dialect)).all()
        for slot in slots:
            if slot.free:
                metrics.slot_fired((now - slot.next_run_at).total_seconds(), slot.free)
    db.session.commit()
    for loaded in list(db.session.identity_map.values()):  # what this session loaded of scripts is out of date
        if isinstance(loaded, Script):
            db.session.expire(loaded)
    if result.fired:  # a queue outage leaves the runs pending, for the relay
        executions.wake(len(result.fired))
    metrics.TICK.observe(time.perf_counter() - started)
    return result


def _write_lock_sqlite() -> None:
    """On SQLite the pass reads the due scripts under the database's write lock (BEGIN IMMEDIATE): a second
    scheduler waits for the first's commit and then finds the slots advanced, so none fires twice."""
    db.session.commit()
    db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Script.type == "scheduled", Script.status == "active", Script.next_run_at <= now,
            Tenant.id == Script.tenant_id, Tenant.active.is_(True))


def _free(now: datetime) -> ColumnElement[bool]:
    """No previous run holds the script's overlap lock."""
    return or_(Script.locked_until.is_(None), Script.locked_until <= now)


def _batch(now: datetime, dialect: str) -> Select:
    """The pass's batch, the oldest JSR_SCHEDULE_BATCH due scripts (locked, skipping those another pass
    holds, on PostgreSQL), counted per group and slot: how many are free to fire, and the greatest id,
    which gives the batch's last (slot, id), the bound of every later statement of the pass."""
    due = (select(Script.id, Script.next_run_at, Script.cron_expression, Script.timezone, _free(now).label("free"))
           .where(*_due(now))
           .order_by(Script.next_run_at, Script.id)
           .limit(current_app.config["JSR_SCHEDULE_BATCH"]))
    if dialect == "postgresql":
        due = due.with_for_update(of=Script, skip_locked=True)
    due = due.subquery()
    key = (due.c.cron_expression, due.c.timezone, due.c.next_run_at)
    return (select(*key, func.count().filter(due.c.free).label("free"), func.max(due.c.id).label("last_id"))
            .group_by(*key))


def _following(expression: str, timezone: str, now: datetime) -> datetime | None:
    try:
        return cron.next_fire(expression, timezone, now)
    except (CroniterError, ValueError, KeyError):
        return None  # an expression that no longer fires stops being due


def _lock_until(now: datetime, dialect: str) -> ColumnElement[datetime]:
    """The end of a claimed script's overlap lock, computed per row: its run's time limit plus
    JSR_SCHEDULE_LOCK_GRACE_S after `now` (millisecond precision on SQLite, stored in UTCDateTime's form)."""
    grace_ms = current_app.config["JSR_SCHEDULE_LOCK_GRACE_S"] * 1000
    timeout_ms = runtime_service.run_timeout_ms_sql(Script.timeout_ms, Tenant.max_timeout_ms)
    seconds = literal(now.timestamp()) + (timeout_ms + grace_ms) / literal_column("1000.0")
    if dialect == "postgresql":
        return func.to_timestamp(seconds)
    return func.strftime("%Y-%m-%d %H:%M:%f", seconds, "unixepoch", type_=String).concat("000")


def _fire(group: tuple, now: datetime, queued_at: datetime, dialect: str) -> Insert:
    """One pending run per free script of the group, for its slot, ids made by the database."""
    runs = select(new_id_sql(dialect), Script.tenant_id, Script.id, Script.current_version, literal("schedule"),
                  Script.next_run_at, literal(queued_at, UTCDateTime()), literal(queued_at, UTCDateTime())
                  ).where(*group, _free(now))
    if dialect == "postgresql":
        runs = runs.with_for_update(of=Script, skip_locked=True)
    columns = ["id", "tenant_id", "script_id", "script_version", "trigger", "scheduled_for", "created_at",
               "queued_at"]
    return insert(RUNS).from_select(columns, runs, include_defaults=False).returning(RUNS.c.id)


def _claim(group: tuple, following: datetime | None, lock: ColumnElement[datetime]) -> Update:
    """The claim of the scripts just fired: the next slot, and the overlap lock held by the run."""
    return (update(SCRIPTS)
            .where(*group, Execution.script_id == Script.id, Execution.scheduled_for == Script.next_run_at)
            .values(next_run_at=following, locked_until=lock, locked_by=Execution.id))


def _skip(group: tuple, now: datetime, following: datetime | None, dialect: str) -> Update:
    """The group's scripts whose previous run still holds the lock: their slot passes without a run."""
    held = (*group, ~_free(now))
    skip = update(SCRIPTS).where(*held).values(next_run_at=following).returning(SCRIPTS.c.id)
    if dialect == "postgresql":  # not waiting for the rows another pass holds: they are its own
        skip = skip.where(Script.id.in_(select(Script.id).where(*held).with_for_update(of=Script, skip_locked=True)
                                        .correlate(None).scalar_subquery()))
    return skip
