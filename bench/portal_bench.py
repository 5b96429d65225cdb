"""Portal page benchmark: `make bench-portal` (or `.venv/bin/python -m bench.portal_bench`).

Server time of the list pages with 10 000 executions in the table (issue 11: under 100 ms), then of the
dashboard per range with 100 000 (issue 12: under 200 ms), measured through the Flask test client
against a migrated database: SQLite by default, PostgreSQL with --database postgresql+psycopg://... .
The dashboard's baseline, measured in the same run, is the same page for a tenant without runs: the
ratio is what the aggregation over the runs costs on top of rendering. Prints medians and p95; it
asserts nothing.
"""

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import flask_migrate
from sqlalchemy import insert

from portal import create_app
from portal.extensions import db
from portal.models import Execution, Script, ScriptVersion, Tenant, User
from portal.services import runtime as runtime_service
from portal.tenancy import system_scope

PASSWORD = "bench-password"
PAGES = ["/scripts", "/scripts?q=job-1", "/executions", "/executions?status=failed", "/executions?trigger=http",
         "/executions?q=order-4242", "/"]
DASHBOARDS = ["/?range=1h", "/?range=24h", "/?range=7d", "/?range=30d"]
DASHBOARD_TARGET_MS = 200


def _tenant(slug: str, scripts: int) -> tuple[str, list[str], str]:
    """A tenant with `scripts` scripts and an org admin: (tenant id, script ids, the admin's e-mail)."""
    with system_scope():
        tenant = Tenant(slug=slug, name=slug.title())
        db.session.add(tenant)
        db.session.flush()
        admin = User(tenant_id=tenant.id, email=f"admin@{slug}.test", name="Admin", role="org_admin")
        admin.set_password(PASSWORD)
        db.session.add(admin)
        made = [Script(tenant_id=tenant.id, name=f"job-{n}", type="oneoff", source="function main(i) { return i }")
                for n in range(scripts)]
        db.session.add_all(made)
        db.session.flush()
        db.session.add_all(ScriptVersion(script_id=s.id, tenant_id=tenant.id, version=1, source=s.source)
                           for s in made)
        db.session.commit()
        return tenant.id, [s.id for s in made], admin.email


def _add_runs(tenant_id: str, script_ids: list[str], first: int, last: int) -> None:
    """Runs number `first` to `last - 1`, spread over the last 30 days, written in batches."""
    now, rng = datetime.now(UTC), random.Random(first)
    statuses = ["completed"] * 8 + ["failed", "timeout"]
    triggers = ["manual", "schedule", "http", "event", "api"]
    with system_scope():
        for start in range(first, last, 5000):
            db.session.execute(insert(Execution), [
                {"tenant_id": tenant_id, "script_id": script_ids[n % len(script_ids)], "script_version": 1,
                 "status": rng.choice(statuses), "trigger": rng.choice(triggers),
                 "input": {"order": f"order-{n}", "amount": n % 997}, "output": {"ok": True},
                 "logs": [{"level": "info", "time": 0, "message": "done"}], "duration_ms": rng.random() * 20,
                 "created_at": now - timedelta(seconds=rng.randrange(30 * 86400))}
                for n in range(start, min(start + 5000, last))])
            db.session.commit()
    if db.engine.dialect.name == "postgresql":  # as autovacuum does soon after a bulk load: statistics, visibility
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE executions")


def _time(client, url: str, repeat: int) -> tuple[float, float]:
    """(median, p95) server time of `url` in ms, after one request that warms caches and templates."""
    client.get(url)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def _signed_in(app, email: str):
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: a new SQLite file)")
    parser.add_argument("--executions", type=int, default=10_000, help="runs for the list pages")
    parser.add_argument("--dashboard-executions", type=int, default=100_000, help="runs for the dashboard")
    parser.add_argument("--scripts", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="jsr-bench-")
    os.environ.setdefault("JSR_INSTANCE_PATH", folder)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database or f"sqlite:///{folder}/bench.sqlite3",
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "JSR_LOGIN_RATE": "1000 per minute"})
    with app.app_context():
        flask_migrate.upgrade()
        tenant_id, script_ids, email = _tenant("bench", args.scripts)
        _add_runs(tenant_id, script_ids, 0, args.executions)
        *_, empty_email = _tenant("empty", args.scripts)
    try:
        client = _signed_in(app, email)
        print(f"{args.executions} executions, {args.scripts} scripts, {db_name(app)}; server time per page "
              f"over {args.repeat} requests:")
        for url in PAGES:
            median, p95 = _time(client, url, args.repeat)
            print(f"  {url:32} median {median:6.1f} ms   p95 {p95:6.1f} ms")
        with app.app_context():
            _add_runs(tenant_id, script_ids, args.executions, args.dashboard_executions)
        empty = _signed_in(app, empty_email)
        print(f"\nDashboard with {args.dashboard_executions} executions (target {DASHBOARD_TARGET_MS} ms); baseline: "
              f"the same page for a tenant without runs:")
        for url in DASHBOARDS:
            baseline, _ = _time(empty, url, args.repeat)
            median, p95 = _time(client, url, args.repeat)
            print(f"  {url:14} median {median:6.1f} ms   p95 {p95:6.1f} ms   baseline {baseline:5.1f} ms   "
                  f"{median / baseline:5.1f}x baseline   {median / DASHBOARD_TARGET_MS:4.2f}x target")
    finally:
        with app.app_context():
            runtime_service.pool().close(timeout=5)
            db.engine.dispose()


def db_name(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]


if __name__ == "__main__":
    main()
