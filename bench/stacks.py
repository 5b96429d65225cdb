"""The stacks the end-to-end benchmarks run on, and the processes they start.

* embedded: SQLite database and Huey on SQLite, in a temporary directory;
* production: a throwaway PostgreSQL database created on the server of BENCH_DATABASE_URL (default: the
  local server) and dropped afterwards, Huey and the rate limiter on Redis at BENCH_REDIS_URL (default:
  local db 11, flushed before and after); used only when both answer.

Every process a benchmark starts gets its own process group and is stopped with it.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"


@dataclass
class Stack:
    label: str
    database_url: str
    huey_url: str
    redis_url: str | None
    directory: Path

    def overrides(self) -> dict:
        """create_app() settings of the benchmark's own process."""
        return {"SQLALCHEMY_DATABASE_URI": self.database_url, "HUEY_URL": self.huey_url,
                "REDIS_URL": self.redis_url, "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
                "JSR_INSTANCE_PATH": str(self.directory), "SECRET_KEY": "bench", "JSR_SECRETS_KEY": "bench"}

    def environment(self, **extra: str) -> dict[str, str]:
        """The environment of the web and worker processes: the same stack, no outside settings."""
        env = {key: value for key, value in os.environ.items()
               if key not in ("DATABASE_URL", "HUEY_URL", "REDIS_URL") and not key.startswith("JSR_")}
        env.update(DATABASE_URL=self.database_url, HUEY_URL=self.huey_url, JSR_INSTANCE_PATH=str(self.directory),
                   SECRET_KEY="bench", JSR_SECRETS_KEY="bench", PYTHONPATH=str(ROOT), **extra)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        return env


def _answers(database_url: str, redis_url: str) -> str | None:
    """Why the production stack cannot be used, or None when PostgreSQL and Redis both answer."""
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        engine = create_engine(database_url, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new database on the server of `server_url`, dropped afterwards: a benchmark never touches another."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"jsr_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def stacks() -> Iterator[list[Stack]]:
    """The embedded stack, and the production one when its servers answer (else a note why not)."""
    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    with tempfile.TemporaryDirectory() as embedded_dir, tempfile.TemporaryDirectory() as production_dir:
        embedded = Stack("embedded (SQLite, Huey on SQLite)", f"sqlite:///{embedded_dir}/jsr.sqlite3",
                         f"sqlite:///{embedded_dir}/huey.sqlite3", None, Path(embedded_dir))
        why_not = _answers(database_url, redis_url)
        if why_not is not None:
            print(f"production stack skipped: {why_not}")
            yield [embedded]
            return
        import redis

        queue = redis.Redis.from_url(redis_url)
        queue.flushdb()
        try:
            with postgres_database(database_url) as url:
                yield [embedded, Stack("Redis + PostgreSQL", url, redis_url, redis_url, Path(production_dir))]
        finally:
            queue.flushdb()


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run `command` in its own process group; on exit stop the whole group (SIGTERM, then SIGKILL)."""
    with open(log, "ab") as output:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        yield child
    finally:
        try:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        except ProcessLookupError:
            pass


def gunicorn(app_spec: str, port: int, workers: int) -> list[str]:
    """gunicorn with the portal's settings file (gunicorn.conf.py), as production serves it."""
    return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), app_spec]


def wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not start within {timeout} s")
