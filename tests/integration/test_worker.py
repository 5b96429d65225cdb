"""A real Huey consumer process runs queued executions (SQLite storage, and Redis when it answers)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import Execution
from portal.services import executions, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope

ROOT = Path(__file__).resolve().parents[2]


def _redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        return None
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:
        return None
    return url


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'huey.sqlite3'}"
    url = _redis_url()
    if url is None:
        pytest.skip("TEST_REDIS_URL is not set or Redis does not answer")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def worker(app, queue_url, tmp_path):
    """Start `python -m tasks.worker` against the test database and queue; stop it afterwards."""
    from tasks.queue import configure

    app.config.update(HUEY_URL=queue_url, HUEY_IMMEDIATE=False)
    configure(app)
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "HUEY_URL": queue_url,
           "JSR_INSTANCE_PATH": str(tmp_path), "JSR_WORKERS": "2", "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-m", "tasks.worker"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    process.wait(timeout=10)
    log.close()
    app.config["HUEY_IMMEDIATE"] = True
    configure(app)


def _wait_final(execution_id: str, timeout: float = 20.0) -> tuple[str, object]:
    """(status, output) once the execution is final: plain values, since rollbacks expire ORM objects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        with system_scope():
            execution = db.session.get(Execution, execution_id)
            db.session.refresh(execution)
            if execution.status in executions.FINAL_STATUSES:
                return execution.status, execution.output
        time.sleep(0.1)
    raise AssertionError(f"execution {execution_id} not final after {timeout}s")


def test_consumer_runs_queued_executions(app, db_session, make_tenant, make_user, worker, tmp_path):
    tenant = make_tenant()
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    good = scripts.create(actor, tenant.id, {"name": "Good", "type": "oneoff",
                                             "source": "async function main(i) { return i * 3 }"})
    bad = scripts.create(actor, tenant.id, {"name": "Bad", "type": "oneoff",
                                            "source": "function main() { for (;;) {} }", "timeout_ms": 300})
    tenant_id, good_id = tenant.id, good.id  # plain ids survive the rollbacks below
    queued = [executions.enqueue(actor, tenant.id, good.id, n) for n in range(3)]
    assert all(e.status == "pending" for e in queued)
    ids = [e.id for e in queued]  # read before _wait_final's rollbacks expire the objects
    looping_id = executions.enqueue(actor, tenant.id, bad.id).id
    results = [_wait_final(execution_id) for execution_id in ids]
    assert results == [("completed", 0), ("completed", 3), ("completed", 6)]
    assert _wait_final(looping_id)[0] == "timeout"
    # the timeout harmed nothing: the same worker still runs scripts
    after_id = executions.enqueue(actor, tenant_id, good_id, 5).id
    assert _wait_final(after_id) == ("completed", 15)
    assert worker.poll() is None, (tmp_path / "worker.log").read_text()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait_status(execution_id: str, status: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        with system_scope():
            if db.session.get(Execution, execution_id, populate_existing=True).status == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} never became {status}")


@pytest.mark.parametrize("queue_url", ["sqlite"], indirect=True)
def test_a_dead_worker_process_harms_no_other_run(app, db_session, make_tenant, make_user, worker, tmp_path):
    """Kill the worker processes mid-run (as a QuickJS crash would): the consumer replaces them and
    later executions still run; the lost one is failed by the reaper."""
    tenant = make_tenant()
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    tenant_id = tenant.id
    spin = scripts.create(actor, tenant_id, {"name": "Spin", "type": "oneoff", "timeout_ms": 20000,
                                             "source": "function main() { for (;;) {} }"}).id
    good = scripts.create(actor, tenant_id, {"name": "Good", "type": "oneoff",
                                             "source": "function main(i) { return i + 1 }"}).id
    lost_id = executions.enqueue(actor, tenant_id, spin).id
    _wait_status(lost_id, "running")
    victims = _children(worker.pid)
    assert victims, "the consumer has no worker processes"
    for pid in victims:
        os.kill(pid, 9)
    after_id = executions.enqueue(actor, tenant_id, good, 1).id
    assert _wait_final(after_id) == ("completed", 2)
    assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    assert executions.reap_stale(grace_seconds=-3600) == 1  # as if the time limit had long passed
    assert _wait_final(lost_id)[0] == "failed"
