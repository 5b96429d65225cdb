"""Helpers of the integration tests: the portal served by a real HTTP server on 127.0.0.1."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parents[2]

SERVERS = {
    "werkzeug": lambda port: [sys.executable, "-m", "flask", "--app", "app", "run", "--host", "127.0.0.1",
                              "--port", str(port)],
    "gunicorn": lambda port: [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
                              "--threads", "4", "app:create_app()"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app: Flask, tmp_path: Path, kind: str = "werkzeug", **env: str) -> Iterator[str]:
    """The base URL of `kind` serving the portal on the test app's database; stopped afterwards."""
    port = _free_port()
    environment = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
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
