"""Fixtures of the integration tests: a real Huey consumer process on SQLite or Redis storage, and the
portal served by a real HTTP server (Werkzeug or gunicorn) on 127.0.0.1."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask

from portal.extensions import db
from portal.models import Execution
from portal.services import executions
from portal.tenancy import system_scope
from tests.conftest import redis_url_or_skip

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'huey.sqlite3'}"
    url = redis_url_or_skip()
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def process_env() -> dict[str, str]:
    """Extra environment of the worker and server processes; a test module overrides this fixture."""
    return {}


@pytest.fixture
def worker(app, queue_url, tmp_path, process_env):
    """Start `python -m tasks.worker` against the test database and queue; stop it afterwards."""
    from tasks.queue import configure

    app.config.update(HUEY_URL=queue_url, HUEY_IMMEDIATE=False)
    configure(app)
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "HUEY_URL": queue_url,
           "JSR_INSTANCE_PATH": str(tmp_path), "JSR_WORKERS": "2", "PYTHONPATH": str(ROOT), **process_env}
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVERS = {
    "werkzeug": lambda port: [sys.executable, "-m", "flask", "--app", "app", "run", "--host", "127.0.0.1",
                              "--port", str(port)],
    "gunicorn": lambda port: [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                              "--threads", "4", "app:create_app()"],
}


@contextmanager
def served(app: Flask, tmp_path: Path, kind: str = "werkzeug", **env: str) -> Iterator[str]:
    """The base URL of `kind` serving the portal on the test app's database; stopped afterwards."""
    port = _free_port()
    environment = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                   "JSR_SECRETS_KEY": app.config["JSR_SECRETS_KEY"],
                   "HUEY_URL": f"sqlite:///{tmp_path / 'huey.sqlite3'}", "JSR_INSTANCE_PATH": str(tmp_path),
                   "PYTHONPATH": str(ROOT), **env}
    process = subprocess.Popen(SERVERS[kind](port), cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=sorted(SERVERS))
def server(request, app, tmp_path, process_env):
    with served(app, tmp_path, request.param, **process_env) as base:
        yield base


def call(base, method, path, token=None, body=None, headers=None):
    """(status, parsed JSON body) of one request to the server at `base`."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={
        "content-type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}),
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
