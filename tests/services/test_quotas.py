"""Concurrency quotas counted over every process: the running executions in the database are the leases."""

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import update

import tasks
from portal.extensions import db
from portal.models import Execution
from portal.services import executions, quotas
from portal.services.errors import TooManyRequests
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from tests.conftest import redis_url_or_skip
from tests.integration.conftest import ROOT

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


# -- with Redis: leases of a semaphore shared by every process ---------------------------------
HOLD_A_LEASE = """
import sys, time
from portal import create_app
from portal.services import quotas
app = create_app({"REDIS_URL": sys.argv[1], "SQLALCHEMY_DATABASE_URI": "sqlite://"})
quotas.LEASE_GRACE_S = int(sys.argv[6])
with app.app_context(), quotas.lease(sys.argv[2], sys.argv[3], 1, 1, int(sys.argv[4])) as granted:
    print("granted" if granted else "refused", flush=True)
    if granted and sys.argv[5] == "die":
        import os
        os._exit(0)  # a process that dies holding its lease: no release
    time.sleep(float(sys.argv[5]))
"""


@pytest.fixture
def redis_quotas(app, monkeypatch, tmp_path):
    url = redis_url_or_skip()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    monkeypatch.setitem(app.config, "REDIS_URL", url)

    def other_process(tenant_id, script_id, hold, timeout_ms=30_000, grace_s=quotas.LEASE_GRACE_S):
        """A process that takes a lease of the tenant and script (limits 1), says whether it got it, and
        holds it `hold` seconds (or dies holding it: "die"); .outcome() waits for it and is its exit code."""
        process = subprocess.Popen([sys.executable, "-c", HOLD_A_LEASE, url, tenant_id, script_id, str(timeout_ms),
                                    hold, str(grace_s)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "JSR_INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(ROOT)})
        processes.append(process)
        return process

    processes = []

    yield other_process
    for process in processes:
        process.communicate(timeout=10)  # also closes its pipe
    for key in client.scan_iter("jsr:quota:*"):
        client.delete(key)
    client.close()


def test_a_lease_held_by_another_process_is_refused_until_it_is_released(app, db_session, redis_quotas):
    tenant_id, script_id = str(uuid.uuid4()), str(uuid.uuid4())
    holder = redis_quotas(tenant_id, script_id, "1.5")
    assert holder.stdout.readline().strip() == "granted"
    with quotas.lease(tenant_id, str(uuid.uuid4()), 1, 1, 1000) as granted:  # the tenant's one place is taken
        assert not granted
    assert holder.wait(10) == 0
    with quotas.lease(tenant_id, script_id, 1, 1, 1000) as granted:
        assert granted
        other = redis_quotas(tenant_id, script_id, "0")
        assert other.stdout.readline().strip() == "refused"
        other.wait(10)


def test_the_lease_of_a_process_that_died_expires_with_its_runs_time_limit(app, db_session, redis_quotas):
    tenant_id, script_id = str(uuid.uuid4()), str(uuid.uuid4())
    dead = redis_quotas(tenant_id, script_id, "die", timeout_ms=800, grace_s=0)
    assert dead.stdout.readline().strip() == "granted" and dead.wait(10) == 0
    with quotas.lease(tenant_id, script_id, 1, 1, 1000) as granted:
        assert not granted  # still within the dead run's time limit
    time.sleep(0.9)
    with quotas.lease(tenant_id, script_id, 1, 1, 1000) as granted:
        assert granted


def test_an_inline_run_over_the_cluster_quota_is_refused_through_redis(app, db_session, make_tenant, make_user,
                                                                        make_script, redis_quotas):
    tenant = make_tenant(max_concurrency=1)
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    script = make_script(tenant, source=SOURCE, status="active")
    holder = redis_quotas(tenant.id, str(uuid.uuid4()), "1.5")  # another process's run of the tenant
    assert holder.stdout.readline().strip() == "granted"
    with pytest.raises(TooManyRequests):
        executions.run_now(actor, tenant.id, script.id, 1)
    assert holder.wait(10) == 0
    assert executions.run_now(actor, tenant.id, script.id, 2).output == 2


def test_a_workers_run_the_cluster_quota_refuses_goes_back_to_the_queue(app, db_session, busy_tenant, redis_quotas,
                                                                         undrained_queue):
    tenant, actor, script, running_id = busy_tenant
    with system_scope():  # the database has room: only the Redis semaphore is full
        db.session.execute(update(Execution).where(Execution.id == running_id).values(status="completed"))
        db.session.commit()
    queued = executions.enqueue(actor, tenant.id, script.id, 5).id
    holder = redis_quotas(tenant.id, str(uuid.uuid4()), "1.5")  # an inline run of the tenant elsewhere
    assert holder.stdout.readline().strip() == "granted"
    assert executions.execute(queued).status == "pending"
    later = [task for task in tasks.huey.pending() if task.args == (queued,) and task.eta is not None]
    assert len(later) == 1  # tried again a moment later
    assert holder.wait(10) == 0
    assert (executions.execute(queued).status, _get(queued).output) == ("completed", 5)
