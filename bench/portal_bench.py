"""Portal page benchmark: `make bench-portal` (or `.venv/bin/python -m bench.portal_bench`).

Server time of the list pages with 10 000 executions in the table (issue 11: under 100 ms), measured
through the Flask test client against a migrated database: SQLite by default, PostgreSQL with
--database postgresql+psycopg://... . Prints medians and p95; it asserts nothing.
"""

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import flask_migrate

from portal import create_app
from portal.extensions import db
from portal.models import Execution, Script, ScriptVersion, Tenant, User
from portal.services import runtime as runtime_service
from portal.tenancy import system_scope

PASSWORD = "bench-password"
PAGES = ["/scripts", "/scripts?q=job-1", "/executions", "/executions?status=failed", "/executions?trigger=http",
         "/executions?q=order-4242", "/"]


def _seed(executions: int, scripts: int) -> str:
    """A tenant with `scripts` scripts and `executions` runs spread over the last 30 days; the admin's e-mail."""
    with system_scope():
        tenant = Tenant(slug="bench", name="Bench")
        db.session.add(tenant)
        db.session.flush()
        admin = User(tenant_id=tenant.id, email="admin@bench.test", name="Admin", role="org_admin")
        admin.set_password(PASSWORD)
        db.session.add(admin)
        made = [Script(tenant_id=tenant.id, name=f"job-{n}", type="oneoff", source="function main(i) { return i }")
                for n in range(scripts)]
        db.session.add_all(made)
        db.session.flush()
        db.session.add_all(ScriptVersion(script_id=s.id, tenant_id=tenant.id, version=1, source=s.source)
                           for s in made)
        now, rng = datetime.now(UTC), random.Random(7)
        statuses = ["completed"] * 8 + ["failed", "timeout"]
        triggers = ["manual", "schedule", "http", "event", "api"]
        for n in range(executions):
            db.session.add(Execution(
                tenant_id=tenant.id, script_id=made[n % scripts].id, script_version=1, status=rng.choice(statuses),
                trigger=rng.choice(triggers), input={"order": f"order-{n}", "amount": n % 997}, output={"ok": True},
                logs=[{"level": "info", "time": 0, "message": "done"}], duration_ms=rng.random() * 20,
                created_at=now - timedelta(seconds=rng.randrange(30 * 86400))))
        db.session.commit()
    return admin.email


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: a new SQLite file)")
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--scripts", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="jsr-bench-")
    os.environ.setdefault("JSR_INSTANCE_PATH", folder)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database or f"sqlite:///{folder}/bench.sqlite3",
                      "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "JSR_LOGIN_RATE": "1000 per minute"})
    with app.app_context():
        flask_migrate.upgrade()
        email = _seed(args.executions, args.scripts)
    try:
        client = app.test_client()
        client.post("/login", data={"email": email, "password": PASSWORD})
        print(f"{args.executions} executions, {args.scripts} scripts, {db_name(app)}; server time per page "
              f"over {args.repeat} requests:")
        for url in PAGES:
            client.get(url)  # warm caches and templates
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"  {url:32} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms")
    finally:
        with app.app_context():
            runtime_service.pool().close(timeout=5)
            db.engine.dispose()


def db_name(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]


if __name__ == "__main__":
    main()
