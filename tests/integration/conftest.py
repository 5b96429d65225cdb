"""Fixtures of the integration tests: a real Huey consumer process on SQLite or Redis storage."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.extensions import db
from portal.models import Execution
from portal.services import executions
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


def wait_final(execution_id: str, timeout: float = 20.0) -> tuple[str, object]:
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
