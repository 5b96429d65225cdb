"""A tenant's quota holds across worker processes: two processes never run its scripts at once, whether the
database counts (running rows) or Redis does (leases of a semaphore)."""

import pytest

from portal.extensions import db
from portal.models import Execution
from portal.services import executions, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from tests.conftest import redis_url_or_skip
from tests.integration.conftest import wait_final


@pytest.fixture(params=["database", "redis"])
def process_env(request):
    if request.param == "database":
        return {}
    return {"REDIS_URL": redis_url_or_skip()}


@pytest.mark.parametrize("queue_url", ["sqlite"], indirect=True)
def test_one_run_at_a_time_across_two_worker_processes(app, db_session, make_tenant, make_user, worker):
    tenant = make_tenant(max_concurrency=1)
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    # Each run holds its runner until its time limit: without a shared quota, the consumer's two worker
    # processes would run both at once.
    spin = scripts.create(actor, tenant.id, {"name": "Spin", "type": "oneoff", "timeout_ms": 700,
                                             "source": "function main() { for (;;) {} }"})
    ids = [executions.enqueue(actor, tenant.id, spin.id).id for _ in range(3)]
    assert {wait_final(execution_id)[0] for execution_id in ids} == {"timeout"}
    db.session.rollback()
    with system_scope():
        runs = sorted((db.session.get(Execution, i, populate_existing=True) for i in ids), key=lambda e: e.started_at)
        spans = [(run.started_at, run.finished_at) for run in runs]
    for (_, finished), (started, _) in zip(spans, spans[1:], strict=False):
        assert started >= finished, spans
