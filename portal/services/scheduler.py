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
from sqlalchemy import insert, select, update

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
    due = (select(Script, Tenant).join(Tenant, Tenant.id == Script.tenant_id)
           .where(Script.type == "scheduled", Script.status == "active", Script.next_run_at <= now,
                  Tenant.active.is_(True))
           .order_by(Script.next_run_at)
           .limit(current_app.config["JSR_SCHEDULE_BATCH"]))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(of=Script, skip_locked=True)
    else:
        _write_lock_sqlite()
    claimed = db.session.execute(due).all()
    following: dict[tuple[str, str], datetime | None] = {}  # one croniter walk per (expression, time zone)
    claims, runs = [], []
    for script, tenant in claimed:
        key = (script.cron_expression, script.timezone)
        if key not in following:
            following[key] = _following(*key, now)
        claim, run = _fire(script, tenant, now, following[key], result)
        claims.append(claim)
        if run is not None:
            runs.append({**run, "queued_at": datetime.now(UTC)})  # real time, whatever `now` the pass runs as
    if claims:  # bulk by primary key: the rows are this pass's alone (locked, or the database is)
        db.session.execute(update(Script), claims)
    if runs:
        db.session.execute(insert(Execution), runs)  # one statement for the whole pass
    db.session.commit()
    for script, _ in claimed:
        db.session.expire(script)  # the claims changed their rows behind the session's back
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


def _fire(script: Script, tenant: Tenant, now: datetime, following: datetime | None,
          result: TickResult) -> tuple[dict, dict | None]:
    """The script's claim of its due slot (its new next_run_at and overlap lock), and the execution row to
    write for it, or None when its previous run still holds the lock (skipped)."""
    slot = script.next_run_at
    claim = {"id": script.id, "next_run_at": following}
    if script.locked_until is not None and script.locked_until > now:
        result.skipped.append(script.id)
        return claim, None
    timeout = runtime_service.limits_for(script, tenant).timeout_ms
    claim["locked_until"] = now + timedelta(milliseconds=timeout,
                                            seconds=current_app.config["JSR_SCHEDULE_LOCK_GRACE_S"])
    claim["locked_by"] = execution_id = new_id()
    result.fired.append(execution_id)
    metrics.LAG.observe((now - slot).total_seconds())
    return claim, {"id": execution_id, "tenant_id": script.tenant_id, "script_id": script.id,
                   "script_version": script.current_version, "status": "pending", "trigger": "schedule",
                   "scheduled_for": slot, "logs": [], "attempt": 1, "host_calls": 0}
