"""Executions service: synchronous runs, results, cancel, retention."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select, update

import tasks
from portal.extensions import db
from portal.models import AuditEvent, Execution, Script, Tenant, User
from portal.services import executions, outbox, scripts
from portal.services.errors import PermissionDenied, ServiceError
from portal.services.rbac import Actor
from portal.tenancy import system_scope, tenant_scope
from runtime import LogEntry, RunResult
from tasks.queue import configure
from tests.conftest import backend


def _script(make_user, tenant, source, **extra):
    actor = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(actor, tenant.id, {"name": extra.pop("name", "Job"), "type": "oneoff",
                                               "source": source, **extra})
    return actor, script


def test_run_records_output_logs_and_metrics(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main(input, ctx) {\n"
                            "  console.log('running', ctx.executionId === undefined ? 'no-id' : 'id');\n"
                            "  return {sum: input.a + input.b, script: ctx.scriptId};\n}")
    execution = executions.run_now(actor, tenant.id, script.id, {"a": 2, "b": 3})
    assert execution.status == "completed"
    assert execution.output == {"sum": 5, "script": script.id}
    assert execution.logs[0]["message"] == "running id" and execution.logs[0]["level"] == "info"
    assert execution.duration_ms > 0 and execution.memory_bytes > 0 and execution.script_version == 1
    assert execution.started_at and execution.finished_at and execution.triggered_by == actor.user_id


def test_failed_run_records_structured_error(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() {\n  null.boom();\n}")
    execution = executions.run_now(actor, tenant.id, script.id)
    assert execution.status == "failed"
    assert execution.error["type"] == "TypeError" and execution.error["line"] == 2


def test_timeout_is_its_own_status(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { for (;;) {} }", timeout_ms=200)
    execution = executions.run_now(actor, tenant.id, script.id)
    assert execution.status == "timeout" and execution.error["kind"] == "timeout"


def test_a_run_killed_at_its_deadline_is_stored_as_a_timeout(db_session, make_tenant, make_user):
    """A native loop that never polls QuickJS's interrupt: the supervisor kills its runner."""
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return Array.prototype.join.call("
                            "{length: 2 ** 53 - 1}, '') }", timeout_ms=300)
    execution = executions.run_now(actor, tenant.id, script.id)
    assert execution.status == "timeout" and execution.error["kind"] == "timeout"
    assert executions.run_now(actor, tenant.id, _script(make_user, tenant, "function main() { return 1 }",
                                                         name="After")[1].id).output == 1


def test_nul_and_lone_surrogates_from_a_script_are_stored_replaced(db_session, make_tenant, make_user):
    """PostgreSQL refuses both in text and JSONB: the runtime replaces them before anything is stored."""
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() {\n  console.log('log \\0 \\ud800');\n"
                            "  return {out: 'a\\0b\\udc00', ['k\\0']: 1};\n}")
    execution = executions.run_now(actor, tenant.id, script.id)
    assert execution.status == "completed"
    assert execution.output == {"out": "a\ufffdb\ufffd", "k\ufffd": 1}
    assert execution.logs[0]["message"] == "log \ufffd \ufffd"
    _, failing = _script(make_user, tenant, "function main() { throw new Error('bad \\0 \\ud800') }", name="Throws")
    failed = executions.run_now(actor, tenant.id, failing.id)
    assert failed.status == "failed" and failed.error["message"] == "bad \ufffd \ufffd"


def test_viewer_cannot_run(db_session, make_tenant, make_user):
    tenant = make_tenant()
    _, script = _script(make_user, tenant, "function main() { return 1 }")
    viewer = Actor.of(make_user(role="viewer", tenant=tenant))
    with pytest.raises(PermissionDenied):
        executions.run_now(viewer, tenant.id, script.id)


def test_cancel_only_pending(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    with tenant_scope(tenant.id):
        pending = executions.create_pending(actor, script, trigger="manual")
        db.session.commit()
    assert executions.cancel(actor, tenant.id, pending.id).status == "cancelled"
    assert executions.execute(pending.id).status == "cancelled"  # a cancelled run never starts
    done = executions.run_now(actor, tenant.id, script.id)
    with pytest.raises(ServiceError):
        executions.cancel(actor, tenant.id, done.id)


def test_list_filters(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, ok = _script(make_user, tenant, "function main() { return 1 }", name="Ok")
    _, bad = _script(make_user, tenant, "function main() { throw new Error('x') }", name="Bad")
    executions.run_now(actor, tenant.id, ok.id)
    executions.run_now(actor, tenant.id, bad.id)
    assert {e.status for e in executions.list_executions(actor, tenant.id)} == {"completed", "failed"}
    assert [e.script_id for e in executions.list_executions(actor, tenant.id, status="failed")] == [bad.id]
    assert executions.list_executions(actor, tenant.id, script_id=ok.id)[0].status == "completed"
    future = datetime.now(UTC) + timedelta(hours=1)
    assert executions.list_executions(actor, tenant.id, since=future) == []


def test_cleanup_removes_only_old_finished(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    old = executions.run_now(actor, tenant.id, script.id)
    fresh = executions.run_now(actor, tenant.id, script.id)
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == old.id)
                           .values(created_at=datetime.now(UTC) - timedelta(days=40)))
        db.session.commit()
    assert executions.cleanup(30) == 1
    with system_scope():
        assert db.session.get(Execution, fresh.id) is not None
        assert db.session.get(Execution, old.id, populate_existing=True) is None


def test_run_embedded_by_name(db_session, make_tenant, make_user):
    tenant = make_tenant()
    _script(make_user, tenant, "function main(input) { return input.x * 10 }", name="Calc")
    execution = executions.run_embedded(tenant.id, "Calc", {"x": 4})
    assert execution.output == 40 and execution.trigger == "embedded"


def test_enqueue_runs_through_the_task_queue(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main(input) { return input + 1 }")
    queued = executions.enqueue(actor, tenant.id, script.id, 1)
    assert queued.status == "pending"  # the caller's copy; the inline (immediate) task ran it
    with system_scope():
        assert db.session.get(Execution, queued.id, populate_existing=True).output == 2


def test_reap_stale_running_executions(app, db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    with tenant_scope(tenant.id):
        lost = executions.create_pending(actor, script, trigger="manual")
        recent = executions.create_pending(actor, script, trigger="manual")
        lost_id, recent_id = lost.id, recent.id
        db.session.commit()
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == lost_id)
                           .values(status="running", started_at=long_ago))
        db.session.execute(update(Execution).where(Execution.id == recent_id)
                           .values(status="running", started_at=datetime.now(UTC)))
        db.session.commit()
    assert len(executions.reap_stale()) == 1
    with system_scope():
        reaped = db.session.get(Execution, lost_id, populate_existing=True)
        assert reaped.status == "failed" and reaped.error["type"] == "WorkerLost"
        assert db.session.get(Execution, recent_id, populate_existing=True).status == "running"


def test_disabled_and_archived_scripts_do_not_run(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    scripts.set_status(actor, tenant.id, script.id, "disabled")
    with pytest.raises(ServiceError) as raised:
        executions.run_now(actor, tenant.id, script.id)
    assert raised.value.field == "status"
    with pytest.raises(ServiceError):
        executions.enqueue(actor, tenant.id, script.id)
    assert executions.list_executions(actor, tenant.id) == []


def _running(actor, script) -> Execution:
    """A pending execution of `script`, claimed as a worker would."""
    with tenant_scope(script.tenant_id):
        execution = executions.create_pending(actor, script, trigger="manual")
        db.session.commit()
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == execution.id).values(status="running"))
        db.session.commit()
        return db.session.get(Execution, execution.id, populate_existing=True)


@pytest.mark.parametrize("result", [
    RunResult(output_json='{"big": 1}', memory_bytes=2**64),  # a counter no integer column holds
    RunResult(output_json='"a\\u0000b"', logs=[LogEntry("info", 0.0, "nul \x00 and \ud800")]),
], ids=["overflow", "nul"])
def test_a_result_that_cannot_be_stored_ends_failed_with_an_honest_error(app, db_session, make_tenant, make_user,
                                                                         result):
    if result.memory_bytes == 0 and backend(app) == "sqlite":
        pytest.skip("SQLite stores NUL and escaped surrogates; PostgreSQL refuses them")
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    execution = _running(actor, script)
    with system_scope():
        executions.store_result(execution, result)
        stored = db.session.get(Execution, execution.id, populate_existing=True)
    assert stored.status == "failed" and stored.finished_at is not None
    assert stored.error["type"] == "ResultNotStored" and "ended completed" in stored.error["message"]
    assert stored.output is None and stored.logs == []


@pytest.mark.parametrize("withdrawn", ["script", "tenant", "user"])
def test_a_queued_run_starts_only_if_script_tenant_and_user_still_allow_it(db_session, make_tenant, make_user,
                                                                           withdrawn):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    with tenant_scope(tenant.id):
        pending = executions.create_pending(actor, script, trigger="api")
        db.session.commit()
    table, row_id, values = {"script": (Script, script.id, {"status": "disabled"}),
                             "tenant": (Tenant, tenant.id, {"active": False}),
                             "user": (User, actor.user_id, {"active": False})}[withdrawn]
    with system_scope():  # behind the services' back, as another process would
        db.session.execute(update(table).where(table.id == row_id).values(**values))
        db.session.commit()
    ended = executions.execute(pending.id)
    assert ended.status == "cancelled" and ended.started_at is not None and ended.output is None
    assert ended.error["kind"] == "cancelled" and withdrawn in ended.error["message"]


def test_disabling_a_script_cancels_its_queued_backlog(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main() { return 1 }")
    with tenant_scope(tenant.id):
        queued = [executions.create_pending(actor, script, trigger="api").id for _ in range(3)]
        db.session.commit()
    scripts.set_status(actor, tenant.id, script.id, "disabled")
    with system_scope():
        statuses = {db.session.get(Execution, i, populate_existing=True).status for i in queued}
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "script.status"))
    assert statuses == {"cancelled"} and event.details["cancelled_pending"] == 3
    assert all(executions.execute(i).status == "cancelled" for i in queued)


def test_an_inline_run_writes_its_execution_once_finished(app, db_session, make_tenant, make_user, monkeypatch):
    """One transaction writes, with one INSERT of the finished execution: no pending → running → completed
    updates. (The queue's delivery of its execution.completed event, which Huey's immediate mode would run
    right here, is the worker's transaction, not the run's: it is only collected.)"""
    monkeypatch.setitem(app.extensions, outbox.DELIVER_KEY, [].append)
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main(input, ctx) { return [input, ctx.executionId] }")
    transactions = [[]]

    def statement(_conn, _cursor, sql, *_):
        transactions[-1].append(" ".join(sql.split()[:3]).upper())

    def commit(_conn):
        transactions.append([])

    sa_event.listen(db.engine, "before_cursor_execute", statement)
    sa_event.listen(db.engine, "commit", commit)
    try:
        execution = executions.run_embedded(tenant.id, script.name, 7)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", statement)
        sa_event.remove(db.engine, "commit", commit)
    assert (execution.status, execution.output) == ("completed", [7, execution.id])
    assert execution.started_at <= execution.finished_at
    writing = [[sql for sql in statements if sql.startswith(("INSERT", "UPDATE", "DELETE"))]
               for statements in transactions]
    writing = [writes for writes in writing if writes]
    assert len(writing) == 1 and [sql for sql in writing[0] if "EXECUTIONS" in sql] == ["INSERT INTO EXECUTIONS"]


def test_a_run_whose_queueing_was_lost_is_handed_over_again_by_the_relay(app, db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main(input) { return input * 2 }")
    # The queue is Redis on a port where nothing listens: the hand-over fails after the run was recorded.
    previous = app.config["HUEY_URL"]
    app.config.update(HUEY_URL="redis://127.0.0.1:1/0", HUEY_IMMEDIATE=False)
    configure(app)
    try:
        execution_id = executions.enqueue(actor, tenant.id, script.id, 4).id
    finally:
        app.config.update(HUEY_URL=previous, HUEY_IMMEDIATE=True)
        configure(app)
    with system_scope():
        assert db.session.get(Execution, execution_id, populate_existing=True).status == "pending"
    assert executions.relay_pending() == 0  # not yet: it may still be on its way
    later = datetime.now(UTC) + executions.RELAY_AFTER + timedelta(seconds=1)
    assert executions.relay_pending(now=later) == 1  # handed over, and run (Huey's immediate mode)
    with system_scope():
        execution = db.session.get(Execution, execution_id, populate_existing=True)
        assert (execution.status, execution.output) == ("completed", 8)
    assert executions.relay_pending(now=later + 2 * executions.RELAY_AFTER) == 0


def test_two_relays_hand_a_lost_run_over_once(app, db_session, make_tenant, make_user, undrained_queue):
    tenant = make_tenant()
    actor, script = _script(make_user, tenant, "function main(input) { return input }")
    execution_id = executions.enqueue(actor, tenant.id, script.id, 1).id
    queued = [task.args for task in tasks.huey.pending()].count((execution_id,))
    later = datetime.now(UTC) + executions.RELAY_AFTER + timedelta(seconds=1)
    assert [executions.relay_pending(now=later), executions.relay_pending(now=later)] == [1, 0]
    assert [task.args for task in tasks.huey.pending()].count((execution_id,)) == queued + 1


def test_a_worker_claims_due_pending_runs_in_a_batch_and_writes_their_results_in_one_commit(
        app, db_session, make_tenant, make_user, undrained_queue):
    tenant = make_tenant(max_concurrency=10)
    actor, script = _script(make_user, tenant, "function main(input) { return input * 10 }", concurrency=10)
    queued = [executions.enqueue(actor, tenant.id, script.id, n).id for n in range(5)]
    writes = []

    def statement(_conn, _cursor, sql, *_):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(True)

    def commit(_conn):
        if writes:
            transactions.append(len(writes))
            writes.clear()

    transactions = []
    sa_event.listen(db.engine, "before_cursor_execute", statement)
    sa_event.listen(db.engine, "commit", commit)
    try:
        batch = executions.execute_batch(queued[2])
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", statement)
        sa_event.remove(db.engine, "commit", commit)
    assert batch[0].id == queued[2] and sorted(e.id for e in batch) == sorted(queued)
    with system_scope():
        stored = {e.id: (e.status, e.output) for e in db.session.scalars(
            select(Execution).where(Execution.id.in_(queued)).execution_options(populate_existing=True))}
    assert stored == {execution_id: ("completed", n * 10) for n, execution_id in enumerate(queued)}
    assert len(transactions) == 2  # the claim, then every result
    assert executions.execute(queued[0]).status == "completed"  # its own task comes later: nothing to do


def test_a_batch_leaves_runs_over_quota_and_runs_not_due_yet_pending(app, db_session, make_tenant, make_user,
                                                                    undrained_queue):
    tenant = make_tenant(max_concurrency=2)
    actor, script = _script(make_user, tenant, "function main(input) { return input }")
    queued = [executions.enqueue(actor, tenant.id, script.id, n).id for n in range(3)]
    later = executions.enqueue(actor, tenant.id, script.id, 9).id
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == later)
                           .values(queued_at=datetime.now(UTC) + timedelta(minutes=5)))
        db.session.commit()
    ran = executions.execute_batch(queued[0])
    assert sorted(e.id for e in ran if e.status == "completed") == sorted(queued[:2])
    with system_scope():
        assert {db.session.get(Execution, i, populate_existing=True).status for i in (queued[2], later)} == {"pending"}
