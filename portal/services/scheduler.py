"""The scheduler: one pass fires every due scheduled script once, safely from any number of processes.

A pass (`tick`) runs every minute on every Huey consumer (tasks.scheduler) and on demand from
`flask --app app jsr tick [--now ISO]`. Two passes at the same moment cannot both fire a slot:

* the due rows are read with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so a second pass skips the rows
  the first holds, and a row the first has advanced is no longer due when the second reads it;
* each claim is an atomic conditional update (`next_run_at` still equal to the slot read), which is the
  whole claim on SQLite, where one writer at a time updates and a loser's update matches no row;
* behind both, the database refuses a second execution of one (script, slot).

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
from sqlalchemy import insert, or_, select, update

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
    claimed = db.session.execute(due).all()
    runs = [run for script, tenant in claimed if (run := _fire(script, tenant, now, result)) is not None]
    if runs:
        db.session.execute(insert(Execution), runs)  # one statement for the whole pass
    db.session.commit()
    for script, _ in claimed:
        db.session.expire(script)  # the claims changed their rows behind the session's back
    for execution_id in result.fired:
        executions.dispatch(execution_id)  # a queue outage leaves the run pending, for the relay
    metrics.TICK.observe(time.perf_counter() - started)
    return result


def _fire(script: Script, tenant: Tenant, now: datetime, result: TickResult) -> dict | None:
    """Claim the script's due slot; returns the execution row to write, or None (skipped or lost)."""
    slot = script.next_run_at
    try:
        following = cron.next_fire(script.cron_expression, script.timezone, now)
    except (CroniterError, ValueError, KeyError):
        following = None  # an expression that no longer fires stops being due
    overlapping = script.locked_until is not None and script.locked_until > now
    values: dict = {"next_run_at": following}
    if not overlapping:
        timeout = runtime_service.limits_for(script, tenant).timeout_ms
        values["locked_until"] = now + timedelta(milliseconds=timeout,
                                                 seconds=current_app.config["JSR_SCHEDULE_LOCK_GRACE_S"])
    if not overlapping:
        values["locked_by"] = execution_id = new_id()
    # Not synchronised with the session: evaluating each claim against every loaded script is quadratic.
    claim = (update(Script).where(Script.id == script.id, Script.next_run_at == slot).values(**values)
             .execution_options(synchronize_session=False))
    if not overlapping:  # the lock must still be free when the claim is made
        claim = claim.where(or_(Script.locked_until.is_(None), Script.locked_until <= now))
    if db.session.execute(claim).rowcount != 1:
        return None  # another scheduler claimed this slot first
    if overlapping:
        result.skipped.append(script.id)
        return None
    result.fired.append(execution_id)
    metrics.LAG.observe((now - slot).total_seconds())
    return {"id": execution_id, "tenant_id": script.tenant_id, "script_id": script.id,
            "script_version": script.current_version, "status": "pending", "trigger": "schedule",
            "scheduled_for": slot, "logs": [], "attempt": 1, "host_calls": 0, "queued_at": now}
