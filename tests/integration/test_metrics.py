"""Multi-process metrics: runs in Huey worker processes are counted in what gunicorn's /metrics answers."""

import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.services import accounts
from portal.services.rbac import Actor
from tests.integration.conftest import call, wait_final


@pytest.fixture
def process_env(tmp_path):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    return {"PROMETHEUS_MULTIPROC_DIR": str(directory)}


def _completed(base: str, tenant_id: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "jsr_executions_total" and sample.labels.get("tenant") == tenant_id
               and sample.labels.get("status") == "completed")


@pytest.mark.parametrize("server", ["gunicorn"], indirect=True)
@pytest.mark.parametrize("queue_url", ["sqlite"], indirect=True)
def test_worker_runs_are_counted_by_the_web_processes(server, worker, db_session, make_tenant, make_user):
    tenant = make_tenant()
    tenant_id = tenant.id  # a plain id: wait_final's rollbacks expire the object
    token, _ = accounts.create_token(Actor.system(), make_user(role="developer", tenant=tenant).id, "metrics")
    status, script = call(server, "POST", "/api/v1/scripts", token,
                          {"name": "Count me", "type": "oneoff", "source": "function main(i) { return i }"})
    assert status == 201, script
    queued = [call(server, "POST", f"/api/v1/scripts/{script['id']}/enqueue", token, {"input": n})[1]["id"]
              for n in range(3)]
    assert [wait_final(execution_id)[0] for execution_id in queued] == ["completed"] * 3
    # A worker counts its batch's runs just after committing their results: give it a moment (bounded).
    deadline = time.monotonic() + 5
    while _completed(server, tenant_id) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    # Any of gunicorn's two workers answers: each adds up the files of every process.
    assert {_completed(server, tenant_id) for _ in range(4)} == {3}
