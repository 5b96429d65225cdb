"""Scheduler benchmark: one pass over 10 000 active cron scripts (`make bench-e2e`).

Builds a migrated throwaway database (SQLite, or a new database on the PostgreSQL server of
BENCH_DATABASE_URL, dropped afterwards) and a throwaway Huey queue on SQLite, inserts N active
every-minute scripts due at one slot, and times `scheduler.tick`: once when every script is due (each
claimed, its execution written, the workers woken) and once when none is (the due scan alone). Prints
figures only; it asserts nothing.
"""

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import flask_migrate
from sqlalchemy import insert

from bench.stacks import postgres_database
from portal import create_app, tenancy
from portal.extensions import db
from portal.models import Script, Tenant
from portal.services import scheduler

SOURCE = "function main(input, ctx) { return ctx.trigger.scheduledAt }"


@contextmanager
def _database(directory: Path) -> Iterator[str]:
    server = os.environ.get("BENCH_DATABASE_URL")
    if not server:
        yield f"sqlite:///{directory / 'bench.sqlite3'}"
        return
    with postgres_database(server) as uri:
        yield uri


def _app(uri: str, directory: Path, scripts: int):
    return create_app({"SQLALCHEMY_DATABASE_URI": uri, "HUEY_URL": f"sqlite:///{directory / 'huey.sqlite3'}",
                       "JSR_INSTANCE_PATH": str(directory), "SECRET_KEY": "bench",
                       "JSR_SECRETS_KEY": "bench", "JSR_SCHEDULE_BATCH": scripts})


def _seed(count: int, slot: datetime) -> None:
    with tenancy.system_scope():
        tenant = Tenant(slug=f"bench-{uuid.uuid4().hex[:8]}", name="Bench")
        db.session.add(tenant)
        db.session.flush()
        db.session.execute(insert(Script), [
            {"id": str(uuid.uuid4()), "tenant_id": tenant.id, "name": f"cron-{i}", "source": SOURCE,
             "type": "scheduled", "status": "active", "cron_expression": "* * * * *", "timezone": "UTC",
             "next_run_at": slot, "http_methods": [], "event_patterns": []} for i in range(count)])
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scripts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    due, idle = [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as directory, _database(Path(directory)) as uri:
            app = _app(uri, Path(directory), args.scripts)
            with app.app_context():
                flask_migrate.upgrade()
                slot = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
                _seed(args.scripts, slot)
                started = time.perf_counter()
                fired = scheduler.tick(slot + timedelta(seconds=1)).fired
                due.append((time.perf_counter() - started) * 1000)
                assert len(fired) == args.scripts, len(fired)
                started = time.perf_counter()
                scheduler.tick(slot + timedelta(seconds=2))
                idle.append((time.perf_counter() - started) * 1000)
                db.session.remove()
                db.engine.dispose()
    backend = "postgresql" if os.environ.get("BENCH_DATABASE_URL") else "sqlite"
    print(f"backend: {backend}, scripts: {args.scripts}, rounds: {args.rounds}")
    print(f"tick at {args.scripts} scripts, none due: {statistics.median(idle):.1f} ms")
    print(f"tick at {args.scripts} scripts: {statistics.median(due):.0f} ms  (every one due: claimed, "
          f"written, workers woken; target 50 ms)")


if __name__ == "__main__":
    main()
