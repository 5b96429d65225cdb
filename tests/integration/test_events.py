"""Events through a real Huey consumer: delivery, retries with backoff, dead letter, replay, a killed worker."""

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import DeadLetter, Execution
from portal.services import events, outbox, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope, tenant_scope
from tasks.executions import reap_stale_executions
from tests.integration.conftest import wait_final
from tests.integration.test_worker import _children, _wait_status


@pytest.fixture
def process_env():
    return {"JSR_EVENT_RETRIES": "2", "JSR_RETRY_DELAY_S": "0.2"}


@pytest.fixture
def admin(make_tenant, make_user):
    tenant = make_tenant(max_concurrency=10)
    return tenant.id, Actor.of(make_user(role="org_admin", tenant=tenant))


def _event_script(tenant_id, actor, source, **fields) -> str:
    script = scripts.create(actor, tenant_id, {"name": "Listener", "type": "event", "event_patterns": ["order.*"],
                                               "source": source, **fields})
    return scripts.set_status(actor, tenant_id, script.id, "active").id


def _wait(query, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        with system_scope():
            found = db.session.scalars(query.execution_options(populate_existing=True)).all()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"nothing found after {timeout}s: {query}")


def test_retries_then_dead_letter_then_replay(app, db_session, admin, worker):
    tenant_id, actor = admin
    script_id = _event_script(tenant_id, actor, "function onEvent(e) { if (!e.payload.ok) throw new Error('no'); "
                                                "return e.payload }")
    with tenant_scope(tenant_id):
        outbox.publish(tenant_id, "order.paid", {"ok": False})
        db.session.commit()  # queued for the consumer after this commit
    [letter] = _wait(select(DeadLetter).where(DeadLetter.script_id == script_id))
    assert (letter.attempts, letter.payload, letter.error["message"]) == (3, {"ok": False}, "no")
    with system_scope():
        attempts = db.session.execute(select(Execution.attempt, Execution.status)
                                      .where(Execution.script_id == script_id).order_by(Execution.attempt)).all()
    assert [tuple(row) for row in attempts] == [(1, "failed"), (2, "failed"), (3, "failed")]
    replayed = events.replay(actor, tenant_id, letter.id, {"ok": True})
    assert wait_final(replayed.id) == ("completed", {"ok": True})


@pytest.mark.parametrize("queue_url", ["sqlite"], indirect=True)
def test_a_worker_killed_mid_run_fails_the_attempt_and_the_event_is_retried(app, db_session, admin, worker):
    tenant_id, actor = admin
    script_id = _event_script(tenant_id, actor, "function onEvent(e, ctx) { if (ctx.trigger.attempt === 1) "
                                                "for (;;) {} return 'second attempt' }", timeout_ms=20000)
    with tenant_scope(tenant_id):
        outbox.publish(tenant_id, "order.paid", {"n": 1})
        db.session.commit()
    [first] = _wait(select(Execution.id).where(Execution.script_id == script_id))
    _wait_status(first, "running")
    for pid in _children(worker.pid):
        os.kill(pid, 9)
    # Time passes beyond any time limit; then the reaper task runs (here, in the test's process).
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == first)
                           .values(started_at=datetime.now(UTC) - timedelta(hours=2)))
        db.session.commit()
    assert reap_stale_executions.call_local() == 1
    assert wait_final(first)[0] == "failed"
    [retry] = _wait(select(Execution.id).where(Execution.script_id == script_id, Execution.attempt == 2))
    assert wait_final(retry) == ("completed", "second attempt")
    assert worker.poll() is None
