"""Concurrency quotas counted over every process: the running executions in the database are the leases."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

import tasks
from portal.extensions import db
from portal.models import Execution
from portal.services import executions
from portal.services.errors import TooManyRequests
from portal.services.rbac import Actor
from portal.tenancy import system_scope

SOURCE = "function main(input) { return input }"


def _running_elsewhere(tenant, script, started_at=None) -> str:
    """An execution another process is running (its row says so; this process's pool knows nothing of it)."""
    with system_scope():
        execution = Execution(tenant_id=tenant.id, script_id=script.id, trigger="manual", status="running",
                              started_at=started_at or datetime.now(UTC))
        db.session.add(execution)
        db.session.commit()
        return execution.id


@pytest.fixture
def busy_tenant(make_tenant, make_user, make_script):
    """A tenant allowed one run at a time, already running one elsewhere: (tenant, actor, script, running id)."""
    tenant = make_tenant(max_concurrency=1)
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    script = make_script(tenant, source=SOURCE, status="active")
    return tenant, actor, script, _running_elsewhere(tenant, make_script(tenant, source=SOURCE))


def _get(execution_id: str) -> Execution:
    with system_scope():
        return db.session.get(Execution, execution_id, populate_existing=True)


def test_an_inline_run_over_the_tenants_quota_is_refused(app, db_session, busy_tenant):
    tenant, actor, script, _ = busy_tenant
    with pytest.raises(TooManyRequests) as refused:
        executions.run_now(actor, tenant.id, script.id, 1)
    assert refused.value.headers == {"Retry-After": "1"}
    with system_scope():
        [cancelled] = db.session.query(Execution).filter_by(script_id=script.id).all()
        assert (cancelled.status, cancelled.error["type"]) == ("cancelled", "QuotaExceeded")


def test_a_webhook_over_quota_answers_429(app, client, db_session, make_tenant, make_script):
    tenant = make_tenant(max_concurrency=1)
    make_script(tenant, type="http", status="active", http_path="in", http_methods=["POST"],
                source="function handler() { return 1 }")
    _running_elsewhere(tenant, make_script(tenant))
    answer = client.post(f"/hooks/{tenant.slug}/in", json={})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"


def test_a_queued_run_over_quota_waits_in_the_queue_until_there_is_room(app, db_session, busy_tenant):
    tenant, actor, script, running_id = busy_tenant
    queued = executions.enqueue(actor, tenant.id, script.id, 5)  # the task ran inline (Huey immediate)
    assert _get(queued.id).status == "pending"
    assert [task.args for task in tasks.huey.scheduled()].count((queued.id,)) == 1  # tried again later
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == running_id).values(status="completed"))
        db.session.commit()
    tasks.run_execution(queued.id)  # what the consumer does when the time comes
    assert (_get(queued.id).status, _get(queued.id).output) == ("completed", 5)


def test_the_scripts_own_quota_and_other_scripts(app, db_session, make_tenant, make_user, make_script):
    tenant = make_tenant(max_concurrency=5)
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    single = make_script(tenant, source=SOURCE, concurrency=1)
    other = make_script(tenant, source=SOURCE)
    _running_elsewhere(tenant, single)
    with pytest.raises(TooManyRequests):
        executions.run_now(actor, tenant.id, single.id, 1)
    assert executions.run_now(actor, tenant.id, other.id, 2).output == 2


def test_the_lease_of_a_dead_worker_ends_when_the_reaper_fails_its_run(app, db_session, busy_tenant):
    tenant, actor, script, running_id = busy_tenant
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == running_id)
                           .values(started_at=datetime.now(UTC) - timedelta(hours=2)))
        db.session.commit()
    assert executions.reap_stale() == [running_id]
    assert executions.run_now(actor, tenant.id, script.id, 3).output == 3
