"""The scheduler: one pass fires every due scheduled script once, safely from any number of processes.

A pass (`tick`) runs every minute on every Huey consumer (tasks.scheduler) and on demand from
`flask --app app jsr tick [--now ISO]`. Two passes at the same moment cannot both fire a slot:

* the due rows are read with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so a second pass skips the rows
  the first holds, and a row the first has advanced is no longer due when the second reads it;
* on SQLite the pass reads them under the database's write lock (BEGIN IMMEDIATE), so a second pass
  reads only after the first committed;
* behind both, the database refuses a second execution of one (script, slot).

So the claims are written in bulk, one UPDATE by primary key for all, the next slot is computed once per
distinct (expression, time zone), the runs are inserted in one statement, and the queue gets a few
wake-ups (`executions.wake`) instead of one task per run.

A script whose previous run is still queued or running is skipped for that slot (the overlap lock
`locked_until`/`locked_by`, set at the claim and released when the run ends; it expires on its own
after the script's time limit plus JSR_SCHEDULE_LOCK_GRACE_S, when the worker died). After downtime a
script fires once for the oldest slot it missed, not once per slot, and its next slot is the first one
after the pass's time. The schedule preview is `cron.upcoming_runs(expression, tz, n)`.
"""

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from croniter import CroniterError
from flask import current_app
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.orm.util import identity_key

from portal.extensions import db
from portal.models import Execution, Script, Tenant
from portal.models.tenant import new_id
from portal.services import cron, executions, metrics
from portal.services import runtime as runtime_service
from portal.services.scope import in_system


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
    due = (select(Script.id, Script.tenant_id, Script.current_version, Script.next_run_at, Script.locked_until,
                  Script.locked_by, Script.cron_expression, Script.timezone, Script.timeout_ms,
                  Tenant.max_timeout_ms)
           .join(Tenant, Tenant.id == Script.tenant_id)
           .where(Script.type == "scheduled", Script.status == "active", Script.next_run_at <= now,
                  Tenant.active.is_(True))
           .order_by(Script.next_run_at)
           .limit(current_app.config["JSR_SCHEDULE_BATCH"]))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=Script.__table__, skip_locked=True)
    else:
        _write_lock_sqlite()
    claimed = db.session.execute(due).all()
    following: dict[tuple[str, str], datetime | None] = {}  # one croniter walk per (expression, time zone)
    claims, runs = [], []
    queued_at = datetime.now(UTC)  # real time, whatever `now` the pass runs as
    for row in claimed:
        key = (row.cron_expression, row.timezone)
        if key not in following:
            following[key] = _following(*key, now)
        claim, run = _fire(row, now, following[key], result)
        claims.append(claim)
        if run is not None:
            runs.append({**run, "queued_at": queued_at})
    table = Script.__table__
    if claims:  # one statement for all: the rows are this pass's alone (locked, or the database is)
        db.session.execute(update(table).where(table.c.id == bindparam("claimed_id"))
                           .values(next_run_at=bindparam("next_run_at"), locked_until=bindparam("locked_until"),
                                   locked_by=bindparam("locked_by")), claims)
    if runs:
        db.session.execute(insert(Execution.__table__), runs)  # one statement for the whole pass
    db.session.commit()
    for claim in claims:  # what this session loaded of the claimed scripts is out of date
        loaded = db.session.identity_map.get(identity_key(Script, claim["claimed_id"]))
        if loaded is not None:
            db.session.expire(loaded)
    if runs:  # a queue outage leaves the runs pending, for the relay
        executions.wake(len(runs))
    metrics.TICK.observe(time.perf_counter() - started)
    return result


def _write_lock_sqlite() -> None:
    """On SQLite the pass reads the due scripts under the database's write lock (BEGIN IMMEDIATE): a second
    scheduler waits for the first's commit and then finds the slots advanced, so none fires twice."""
    db.session.commit()
    db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _following(expression: str, timezone: str, now: datetime) -> datetime | None:
    try:
        return cron.next_fire(expression, timezone, now)
    except (CroniterError, ValueError, KeyError):
        return None  # an expression that no longer fires stops being due


def _fire(row: Row, now: datetime, following: datetime | None, result: TickResult) -> tuple[dict, dict | None]:
    """The claim of a due script's slot (its new next_run_at and overlap lock), and the execution row to
    write for it, or None when its previous run still holds the lock (skipped)."""
    claim = {"claimed_id": row.id, "next_run_at": following, "locked_until": row.locked_until,
             "locked_by": row.locked_by}
    if row.locked_until is not None and row.locked_until > now:
        result.skipped.append(row.id)
        return claim, None
    timeout = runtime_service.run_timeout_ms(row.timeout_ms, row.max_timeout_ms)
    claim["locked_until"] = now + timedelta(milliseconds=timeout,
                                            seconds=current_app.config["JSR_SCHEDULE_LOCK_GRACE_S"])
    claim["locked_by"] = execution_id = new_id()
    result.fired.append(execution_id)
    metrics.LAG.observe((now - row.next_run_at).total_seconds())
    return claim, {"id": execution_id, "tenant_id": row.tenant_id, "script_id": row.id,
                   "script_version": row.current_version, "status": "pending", "trigger": "schedule",
                   "scheduled_for": row.next_run_at, "logs": [], "attempt": 1, "host_calls": 0}
