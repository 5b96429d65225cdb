"""Shared fixtures: one app per database backend, a clean database per test, factories.

Every test that uses `app` runs on SQLite, and again on PostgreSQL when TEST_DATABASE_URL
points at a server that answers (a fresh database is created for the session and dropped
at the end). The schema always comes from the real migrations, never from create_all().
"""

import contextvars
import functools
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
import pytest
from argon2 import PasswordHasher, profiles
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from portal import create_app, tenancy
from portal.extensions import db
from portal.models import Script, ScriptVersion, Tenant, User
from portal.models import user as user_model
from portal.services import accounts
from portal.services import runtime as runtime_service
from portal.services.rbac import Actor
from tasks.queue import configure

BACKENDS = ("sqlite", "postgresql")
DEFAULT_PASSWORD = "correct-horse-battery"
DEFAULT_SOURCE = "function main(input, ctx) {\n  return input;\n}\n"


def backend(app: Flask) -> str:
    """'sqlite' or 'postgresql': the database the app under test talks to."""
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name()


# -- databases ---------------------------------------------------------------------------
@functools.cache
def _postgres_server() -> tuple[URL | None, str]:
    """(URL of TEST_DATABASE_URL, '') when it answers within 2 s, else (None, why not)."""
    raw = os.environ.get("TEST_DATABASE_URL")
    if not raw:
        return None, "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/test)"
    url = make_url(raw)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # the driver installed here
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means: skip, with the reason
        return None, f"PostgreSQL at TEST_DATABASE_URL does not answer: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return url, ""


@contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """The URI of a new, empty database of `kind`, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'jsr-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    server, reason = _postgres_server()
    if server is None:
        pytest.skip(reason)
    name = f"jsr_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                          connect_args={"connect_timeout": 2})
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def redis_url_or_skip() -> str:
    """TEST_REDIS_URL when that Redis answers within 2 s; otherwise the calling test is skipped."""
    import redis

    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at TEST_REDIS_URL does not answer: {exc}")
    return url


def make_app(uri: str) -> Flask:
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": uri,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test",
        "JSR_SECRETS_KEY": "test-secrets-key",
        "HUEY_IMMEDIATE": True,  # unit tests run tasks inline; tests/integration starts a real consumer
        # Tests sign in and run far more often than people do; tests of the limits set their own.
        "JSR_LOGIN_RATE": "1000 per minute",
        "JSR_RUN_RATE": "1000 per minute",
    })
    app.test_client_class = IsolatedClient
    return app


class IsolatedClient(FlaskClient):
    """A test client whose requests each get their own app context, DB session, `g` and tenant scope.

    As in production: without this, a request would reuse the test's app context, so `g`
    (Flask-Login's cached user, g.actor) and the session's identity map would leak between
    requests. Objects the test holds are not refreshed by a request: re-read them after one.
    `with client:` keeps Flask's usual behaviour, so the request context can be inspected.
    """

    def open(self, *args, **kwargs):
        if self.preserve_context:
            return super().open(*args, **kwargs)
        return contextvars.Context().run(super().open, *args, **kwargs)


# -- app and database state --------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def _instance_in_tmp(tmp_path_factory):
    """Apps built by tests keep their generated keys in a temporary instance folder, not the checkout's."""
    previous = os.environ.get("JSR_INSTANCE_PATH")
    os.environ["JSR_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("instance"))
    yield
    if previous is None:
        os.environ.pop("JSR_INSTANCE_PATH", None)
    else:
        os.environ["JSR_INSTANCE_PATH"] = previous


def runtime_processes() -> list[int]:
    """Zygotes and runners started from this checkout that are still alive (not zombies)."""
    marker = f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker in cmdline and b"runtime.zygote" in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


_STARTED_BEFORE = pytest.StashKey[set]()


def pytest_sessionstart(session):
    session.config.stash[_STARTED_BEFORE] = set(runtime_processes())


def pytest_sessionfinish(session, exitstatus):
    """Every runner and zygote a test started (directly or through a server) is gone at the end.

    Checked after all fixtures are torn down; a leak fails the run.
    """
    before = session.config.stash.get(_STARTED_BEFORE, set())
    deadline = time.monotonic() + 5
    while (left := set(runtime_processes()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(f"runtime processes left running (pid, parent): {[(p, _parent(p)) for p in sorted(left)]}",
                            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _parent(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
    except OSError:
        return "gone"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """argon2id at its cheapest profile: real hashes and verification, in microseconds."""
    default = user_model.password_hasher
    user_model.password_hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    user_model.password_hasher = default


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory) -> Iterator[Flask]:
    """The app on a migrated database of each backend (the PostgreSQL one skips without a server)."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as uri:
        app = make_app(uri)
        with app.app_context():
            flask_migrate.upgrade()
        yield app
        with app.app_context():
            runtime_service.pool().close(timeout=5)  # stops its runner processes
            db.engine.dispose()  # PostgreSQL cannot drop a database with open connections


@pytest.fixture
def db_session(app):
    """db.session inside an app context for the test; every table is emptied afterwards."""
    with app.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()
        # As the owner, not the app role: on PostgreSQL the app role may not delete history.
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def undrained_queue(app, tmp_path):
    """A real Huey queue (SQLite storage) that no consumer drains: queued runs stay pending."""
    app.config.update(HUEY_URL=f"sqlite:///{tmp_path / 'huey.sqlite3'}", HUEY_IMMEDIATE=False)
    configure(app)
    yield
    app.config["HUEY_IMMEDIATE"] = True
    configure(app)


@pytest.fixture
def client(app, db_session) -> FlaskClient:
    return app.test_client()


def sign_in(app: Flask, user: User, password: str = DEFAULT_PASSWORD) -> FlaskClient:
    """A test client signed in as `user` through the log-in form."""
    client = app.test_client()
    assert client.post("/login", data={"email": user.email, "password": password}).status_code == 302
    return client


@pytest.fixture
def api(client, make_tenant, make_user):
    """api(role) -> (call, tenant): call(method, path, json=...) with a bearer token of that role."""

    def _make(role="org_admin", tenant=None):
        tenant = tenant or make_tenant()
        user = make_user(role=role, tenant=tenant)
        secret, _ = accounts.create_token(Actor.system(), user.id, "test")

        def call(method, path, **kwargs):
            headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
            return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

        return call, tenant

    return _make


# -- factories ---------------------------------------------------------------------------
def _save(*objects):
    """Commit in system scope and load the objects again, so tests can read them in any scope."""
    with tenancy.system_scope():
        db.session.add_all(objects)
        db.session.commit()
        for obj in objects:
            db.session.refresh(obj)
    return objects[0]


def _tenant_id(tenant: Tenant | str) -> str:
    return tenant if isinstance(tenant, str) else tenant.id


@pytest.fixture
def make_tenant(db_session):
    """make_tenant(slug=None, name=None, **columns) -> Tenant."""

    def _make(slug: str | None = None, name: str | None = None, **columns) -> Tenant:
        slug = slug or f"t-{uuid.uuid4().hex[:10]}"
        return _save(Tenant(slug=slug, name=name or slug.title(), **columns))

    return _make


@pytest.fixture
def make_user(db_session, make_tenant):
    """make_user(role='developer', tenant=None, *, email=None, password=..., name=None, **columns) -> User.

    A tenant is made when none is given, except for a superadmin, who belongs to none.
    """

    def _make(role: str = "developer", tenant: Tenant | str | None = None, *, email: str | None = None,
              password: str = DEFAULT_PASSWORD, name: str | None = None, **columns) -> User:
        role = str(role)
        if role == "superadmin":
            tenant_id = None
        else:
            tenant_id = _tenant_id(tenant if tenant is not None else make_tenant())
        email = email or f"{role}-{uuid.uuid4().hex[:10]}@example.test"
        user = User(tenant_id=tenant_id, email=email, name=name or email.split("@")[0], role=role, **columns)
        user.set_password(password)
        return _save(user)

    return _make


@pytest.fixture
def make_script(db_session):
    """make_script(tenant, **columns) -> Script, with its version 1 written as the service would."""

    def _make(tenant: Tenant | str, **columns) -> Script:
        columns.setdefault("name", f"script-{uuid.uuid4().hex[:10]}")
        columns.setdefault("type", "oneoff")
        columns.setdefault("source", DEFAULT_SOURCE)
        tenant_id = _tenant_id(tenant)
        script = Script(tenant_id=tenant_id, **columns)
        with tenancy.system_scope():
            db.session.add(script)
            db.session.flush()
            db.session.add(ScriptVersion(script_id=script.id, tenant_id=tenant_id,
                                         version=script.current_version or 1, source=script.source,
                                         change_description="Created", author_id=script.author_id))
        return _save(script)

    return _make
