"""Two schedulers racing over the same due scripts, with a real Huey consumer running what they fire."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import select

from portal.extensions import db
from portal.models import Execution
from portal.tenancy import system_scope
from tests.integration.conftest import ROOT, wait_final

SCRIPTS = 12


def test_two_schedulers_fire_each_slot_once(app, db_session, make_tenant, make_script, worker, tmp_path):
    # A slot in the future: the consumer's own every-minute pass (real time) never finds it due.
    slot = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
    tenant = make_tenant(max_concurrency=10)
    ids = {make_script(tenant, type="scheduled", status="active", cron_expression="0 * * * *",
                       source="function main(input, ctx) { return ctx.trigger.scheduledAt }", next_run_at=slot).id
           for _ in range(SCRIPTS)}
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "HUEY_URL": app.config["HUEY_URL"],
           "JSR_INSTANCE_PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "flask", "--app", "app", "jsr", "tick", "--now", "2031-05-01T09:00:20Z"]
    passes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=60) for process in passes]
    assert [process.returncode for process in passes] == [0, 0], outputs
    fired = [int(re.search(r"fired (\d+)", out).group(1)) for out, _ in outputs]
    assert sum(fired) == SCRIPTS, outputs
    with system_scope():
        runs = db.session.execute(select(Execution.id, Execution.script_id, Execution.trigger)
                                  .where(Execution.tenant_id == tenant.id)).all()
    assert sorted(script_id for _, script_id, _ in runs) == sorted(ids)  # one run per script and slot
    assert {trigger for _, _, trigger in runs} == {"schedule"}
    try:
        finals = {wait_final(execution_id) for execution_id, _, _ in runs}
    except AssertionError as exc:
        raise AssertionError(f"{exc}; ticks: {outputs}; worker: {(tmp_path / 'worker.log').read_text()}") from None
    assert finals == {("completed", "2031-05-01T09:00:00Z")}
