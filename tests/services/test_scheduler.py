"""The scheduler: cron in the script's time zone, claims, overlap, catch-up, `flask jsr tick`."""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import literal_column, select

import tasks
from portal.extensions import db
from portal.models import Execution, Script
from portal.models.tenant import new_id_sql
from portal.services import cron, executions, metrics, scheduler, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def hours(times: list[datetime]) -> list[str]:
    return [t.strftime("%Y-%m-%d %H:%M") for t in times]


# -- cron in a time zone -------------------------------------------------------------------
def test_local_time_is_kept_across_dst():
    """09:00 in Berlin is 08:00 UTC before the clocks go forward (2026-03-29) and 07:00 after."""
    runs = cron.upcoming_runs("0 9 * * *", "Europe/Berlin", 3, at("2026-03-27T12:00+00:00"))
    assert hours(runs) == ["2026-03-28 08:00", "2026-03-29 07:00", "2026-03-30 07:00"]


def test_a_skipped_wall_time_fires_once_after_the_gap():
    """02:30 does not exist in Berlin on 2026-03-29: the run comes at 03:30 CEST (01:30 UTC), once."""
    runs = cron.upcoming_runs("30 2 * * *", "Europe/Berlin", 3, at("2026-03-27T12:00+00:00"))
    assert hours(runs) == ["2026-03-28 01:30", "2026-03-29 01:30", "2026-03-30 00:30"]


def test_a_repeated_wall_time_fires_once_unless_every_hour():
    """01:30 happens twice in New York on 2026-11-01: a daily job runs once, a half-hourly one in both hours."""
    daily = cron.upcoming_runs("30 1 * * *", "America/New_York", 2, at("2026-10-31T12:00+00:00"))
    assert hours(daily) == ["2026-11-01 05:30", "2026-11-02 06:30"]
    half_hourly = cron.upcoming_runs("*/30 * * * *", "America/New_York", 6, at("2026-11-01T04:10+00:00"))
    assert hours(half_hourly) == ["2026-11-01 04:30", "2026-11-01 05:00", "2026-11-01 05:30",
                                  "2026-11-01 06:00", "2026-11-01 06:30", "2026-11-01 07:00"]


def test_every_minute_without_dst_is_every_minute():
    assert hours(cron.upcoming_runs("* * * * *", "Asia/Tashkent", 3, at("2026-11-27T10:00:30+00:00"))) == [
        "2026-11-27 10:01", "2026-11-27 10:02", "2026-11-27 10:03"]


# -- passes --------------------------------------------------------------------------------
TRIGGER_SOURCE = "function main(input, ctx) { return ctx.trigger }"


@pytest.fixture
def scheduled(make_tenant, make_script):
    """scheduled(next_run_at, **columns) -> script id: an active every-minute script due at next_run_at."""

    def _make(next_run_at: datetime, **columns) -> str:
        columns.setdefault("cron_expression", "* * * * *")
        columns.setdefault("status", "active")
        return make_script(columns.pop("tenant", None) or make_tenant(), type="scheduled",
                           source=TRIGGER_SOURCE, next_run_at=next_run_at, **columns).id

    return _make


def _runs(script_id: str) -> list[Execution]:
    with system_scope():
        return list(db.session.scalars(select(Execution).where(Execution.script_id == script_id)
                                       .order_by(Execution.scheduled_for)
                                       .execution_options(populate_existing=True)))


def _script(script_id: str) -> Script:
    with system_scope():
        return db.session.get(Script, script_id, populate_existing=True)


def test_a_due_script_fires_once_and_advances(app, db_session, scheduled):
    slot = at("2030-01-01T10:00+00:00")
    script_id = scheduled(slot)
    result = scheduler.tick(slot + timedelta(seconds=5))
    assert len(result.fired) == 1 and result.skipped == []
    [run] = _runs(script_id)
    assert (run.trigger, run.status, run.scheduled_for) == ("schedule", "completed", slot)
    assert run.output == {"type": "schedule", "attempt": 1, "scheduledAt": "2030-01-01T10:00:00Z"}
    script = _script(script_id)
    assert script.next_run_at == at("2030-01-01T10:01+00:00")
    assert (script.locked_until, script.locked_by) == (None, None)  # released when the run ended
    assert scheduler.tick(slot + timedelta(seconds=30)).fired == []  # the same slot never fires again


def test_not_due_paused_or_inactive_tenant_do_not_fire(app, db_session, scheduled, make_tenant):
    slot = at("2030-01-01T10:00+00:00")
    later = scheduled(slot + timedelta(minutes=1))
    paused = scheduled(slot, status="paused")
    dormant = scheduled(slot, tenant=make_tenant(active=False))
    assert scheduler.tick(slot).fired == []
    assert _runs(later) == _runs(paused) == _runs(dormant) == []


def test_after_downtime_one_catch_up_run(app, db_session, scheduled):
    """Three hours missed: one run for the oldest missed slot, and the next slot is after the pass."""
    slot = at("2030-01-01T10:00+00:00")
    script_id = scheduled(slot)
    assert len(scheduler.tick(slot + timedelta(hours=3, seconds=10)).fired) == 1
    assert [r.scheduled_for for r in _runs(script_id)] == [slot]
    assert _script(script_id).next_run_at == at("2030-01-01T13:01+00:00")


def test_a_run_still_going_skips_the_slot(app, db_session, scheduled):
    slot = at("2030-01-01T10:00+00:00")
    script_id = scheduled(slot, locked_until=slot + timedelta(minutes=5), locked_by="another-run")
    result = scheduler.tick(slot)
    assert (result.fired, result.skipped) == ([], [script_id])
    assert _runs(script_id) == [] and _script(script_id).next_run_at == slot + timedelta(minutes=1)
    # The lock of a worker that died expires: the slot after it fires.
    assert len(scheduler.tick(slot + timedelta(minutes=6)).fired) == 1


def test_a_pending_run_holds_the_lock_until_cancelled(app, db_session, scheduled, undrained_queue):
    slot = at("2030-01-01T10:00+00:00")
    script_id = scheduled(slot)
    [pending_id] = scheduler.tick(slot).fired
    assert scheduler.tick(slot + timedelta(minutes=1)).skipped == [script_id]
    executions.cancel(Actor.system(), _script(script_id).tenant_id, pending_id)
    assert len(scheduler.tick(slot + timedelta(minutes=2)).fired) == 1


def test_activation_and_cron_change_set_next_run(app, db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(actor, tenant.id, {"name": "Nightly", "type": "scheduled", "cron_expression": "0 2 * * *",
                                               "timezone": "Asia/Tashkent", "source": TRIGGER_SOURCE})
    assert script.next_run_at is None
    before = datetime.now(UTC)
    script = scripts.set_status(actor, tenant.id, script.id, "active")
    local = script.next_run_at.astimezone(ZoneInfo("Asia/Tashkent"))
    assert before < script.next_run_at <= before + timedelta(days=1) and (local.hour, local.minute) == (2, 0)
    script = scripts.update(actor, tenant.id, script.id, {"cron_expression": "15 * * * *"})
    assert script.next_run_at.minute == 15 and script.next_run_at - datetime.now(UTC) <= timedelta(hours=1)
    assert scripts.set_status(actor, tenant.id, script.id, "paused").next_run_at is None


def test_tick_command(app, db_session, scheduled):
    slot = at("2030-01-01T10:00+00:00")
    script_id = scheduled(slot)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jsr", "tick", "--now", "2030-01-01T10:00:30Z"])
    assert result.exit_code == 0 and "fired 1, skipped 0" in result.output, result.output
    assert len(_runs(script_id)) == 1
    bad = runner.invoke(args=["jsr", "tick", "--now", "yesterday"])
    assert bad.exit_code != 0 and "ISO 8601" in bad.output


def test_schedule_preview_over_the_api(api):
    call, _ = api("viewer")
    answer = call("GET", "/schedule-preview?cron=0+9+*+*+*&timezone=Europe/Berlin&n=3")
    assert answer.status_code == 200 and len(answer.json["times"]) == 3
    times = [datetime.fromisoformat(t) for t in answer.json["times"]]
    assert times == sorted(times) and all(t.astimezone(ZoneInfo("Europe/Berlin")).hour == 9 for t in times)
    assert call("GET", "/schedule-preview?cron=0+9+*+*").json["fields"].keys() == {"cron_expression"}
    assert call("GET", "/schedule-preview?cron=0+0+31+2+*").status_code == 422  # never fires
    assert "timezone" in call("GET", "/schedule-preview?cron=*+*+*+*+*&timezone=Mars/Base").json["fields"]
    assert call("GET", "/schedule-preview?cron=*+*+*+*+*&n=51").status_code == 422


def test_a_pass_wakes_the_workers_a_few_times_not_once_per_run(app, db_session, scheduled, undrained_queue):
    slot = at("2030-01-01T10:00+00:00")
    app.config["JSR_WORKER_BATCH"], previous = 2, app.config["JSR_WORKER_BATCH"]
    try:
        ids = [scheduled(slot) for _ in range(5)]
        fired = scheduler.tick(slot + timedelta(seconds=1)).fired
    finally:
        app.config["JSR_WORKER_BATCH"] = previous
    assert len(fired) == 5
    assert [task.name for task in tasks.huey.pending()].count("run_due_executions") == 3  # ⌈5 / 2⌉
    ran = executions.run_due()  # what one woken worker does: it drains every due run
    assert sorted(e.script_id for e in ran) == sorted(ids) and {e.status for e in ran} == {"completed"}
    assert executions.run_due() == []


def test_a_pass_over_several_groups_claims_each_script_for_its_own_run(app, db_session, scheduled, make_tenant,
                                                                      undrained_queue):
    """Groups by expression, time zone and time limit; free scripts fire, held ones are skipped; each
    claimed script's lock names its own run and lasts its own time limit plus the grace."""
    slot = at("2030-01-01T10:00+00:00")
    now = slot + timedelta(seconds=5)
    held = {"locked_until": slot + timedelta(minutes=5), "locked_by": "another-run"}
    tenant, strict = make_tenant(), make_tenant(max_timeout_ms=2000)
    every_minute = scheduled(slot, tenant=tenant)
    berlin = scheduled(slot, tenant=tenant, cron_expression="*/5 * * * *", timezone="Europe/Berlin")
    short = scheduled(slot, tenant=tenant, timeout_ms=1000)
    late = scheduled(slot - timedelta(hours=3), tenant=tenant)
    capped = scheduled(slot, tenant=strict)
    busy = scheduled(slot, tenant=tenant, **held)
    busy_berlin = scheduled(slot, tenant=tenant, cron_expression="*/5 * * * *", timezone="Europe/Berlin", **held)
    result = scheduler.tick(now)
    assert sorted(result.skipped) == sorted([busy, busy_berlin])
    grace = timedelta(seconds=app.config["JSR_SCHEDULE_LOCK_GRACE_S"])
    default = timedelta(milliseconds=min(app.config["JSR_TIMEOUT_MS"], 30_000))
    expected = {every_minute: (slot, at("2030-01-01T10:01+00:00"), default),
                berlin: (slot, at("2030-01-01T10:05+00:00"), default),
                short: (slot, at("2030-01-01T10:01+00:00"), timedelta(seconds=1)),
                late: (slot - timedelta(hours=3), at("2030-01-01T10:01+00:00"), default),
                capped: (slot, at("2030-01-01T10:01+00:00"), timedelta(seconds=2))}
    runs = {}
    for script_id, (scheduled_for, following, timeout) in expected.items():
        [run] = _runs(script_id)
        runs[run.id] = script_id
        assert (run.status, run.trigger, run.scheduled_for, run.attempt) == ("pending", "schedule", scheduled_for, 1)
        script = _script(script_id)
        assert (script.next_run_at, script.locked_by, script.locked_until) == (following, run.id, now + timeout + grace)
    assert sorted(result.fired) == sorted(runs)
    for script_id, following in ((busy, at("2030-01-01T10:01+00:00")), (busy_berlin, at("2030-01-01T10:05+00:00"))):
        script = _script(script_id)
        assert _runs(script_id) == [] and (script.next_run_at, script.locked_by) == (following, "another-run")


def test_the_batch_takes_the_oldest_due_scripts_across_groups(app, db_session, scheduled):
    slot = at("2030-01-01T10:00+00:00")
    hourly = {"cron_expression": "0 * * * *"}
    ids = [scheduled(slot - timedelta(minutes=4)), scheduled(slot - timedelta(minutes=3), **hourly),
           scheduled(slot - timedelta(minutes=2)), scheduled(slot, **hourly), scheduled(slot)]
    app.config["JSR_SCHEDULE_BATCH"], previous = 3, app.config["JSR_SCHEDULE_BATCH"]
    try:
        assert len(scheduler.tick(slot).fired) == 3
        assert [len(_runs(script_id)) for script_id in ids] == [1, 1, 1, 0, 0]
        assert len(scheduler.tick(slot).fired) == 2
    finally:
        app.config["JSR_SCHEDULE_BATCH"] = previous
    assert [len(_runs(script_id)) for script_id in ids] == [1, 1, 1, 1, 1]


def test_run_ids_made_by_the_database_are_random_uuids(app, db_session):
    """new_id_sql gives new_id's form: 36 lowercase characters of a version-4 UUID, a new one per row."""
    numbers = select(literal_column("1").label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < 5000))
    dialect = db.session.get_bind().dialect.name
    ids = db.session.scalars(select(new_id_sql(dialect)).select_from(numbers)).all()
    assert len(ids) == len(set(ids)) == 5000
    for made in ids:
        parsed = uuid.UUID(made)
        assert (str(parsed), parsed.version, parsed.variant) == (made, 4, uuid.RFC_4122)
    assert len({made[14] for made in ids}) == 1 and {made[19] for made in ids} == set("89ab")
    assert len({made[15] for made in ids}) == 16  # the bits around the fixed ones are random too


def test_the_lag_of_a_pass_counts_every_run(app, db_session, scheduled):
    slot = at("2030-01-01T10:00+00:00")
    for _ in range(3):
        scheduled(slot)
    sample = metrics.REGISTRY.get_sample_value
    before = [sample(f"jsr_scheduler_lag_seconds_{name}", labels) or 0 for name, labels in
              (("count", {}), ("sum", {}), ("bucket", {"le": "5.0"}), ("bucket", {"le": "2.5"}))]
    scheduler.tick(slot + timedelta(seconds=4))
    after = [sample(f"jsr_scheduler_lag_seconds_{name}", labels) or 0 for name, labels in
             (("count", {}), ("sum", {}), ("bucket", {"le": "5.0"}), ("bucket", {"le": "2.5"}))]
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 12, 3, 0]
