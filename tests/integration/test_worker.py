"""A real Huey consumer process runs queued executions (SQLite storage, and Redis when it answers)."""

import os
import time
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import Execution
from portal.services import executions, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from tests.integration.conftest import wait_final


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
    ids = [e.id for e in queued]  # read before wait_final's rollbacks expire the objects
    looping_id = executions.enqueue(actor, tenant.id, bad.id).id
    results = [wait_final(execution_id) for execution_id in ids]
    assert results == [("completed", 0), ("completed", 3), ("completed", 6)]
    assert wait_final(looping_id)[0] == "timeout"
    # the timeout harmed nothing: the same worker still runs scripts
    after_id = executions.enqueue(actor, tenant_id, good_id, 5).id
    assert wait_final(after_id) == ("completed", 15)
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
    assert wait_final(after_id) == ("completed", 2)
    assert worker.poll() is None, (tmp_path / "worker.log").read_text()
    assert len(executions.reap_stale(grace_seconds=-3600)) == 1  # as if the time limit had long passed
    assert wait_final(lost_id)[0] == "failed"
