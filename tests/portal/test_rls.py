"""The tenant scope, and row-level security on PostgreSQL: a tenant cannot touch another's rows."""

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from portal import tenancy
from portal.extensions import db
from portal.models import AuditEvent, DataRecord, Execution, Script, Tenant, User
from portal.services import scripts
from portal.services.rbac import Actor
from tests.conftest import backend

TABLES = ("scripts", "executions", "data_records")


def test_scopes_nest_and_restore():
    assert tenancy.current_scope() == tenancy.NO_SCOPE and tenancy.current_tenant() is None
    with tenancy.system_scope():
        assert tenancy.is_system() and tenancy.current_tenant() is None
        with tenancy.tenant_scope("t1") as scope:
            assert scope.tenant_id == "t1" and tenancy.current_tenant() == "t1" and not tenancy.is_system()
        assert tenancy.is_system()
    token = tenancy.activate(tenancy.Scope(tenant_id="t2"))
    assert tenancy.current_tenant() == "t2"
    tenancy.deactivate(token)
    assert tenancy.current_scope() == tenancy.NO_SCOPE


@pytest.mark.parametrize("tenant_id", [None, ""])
def test_tenant_scope_needs_a_tenant(tenant_id):
    with pytest.raises(ValueError):
        tenancy.tenant_scope(tenant_id)


def test_scope_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), tenancy.tenant_scope("t1"):
        raise RuntimeError("boom")
    assert tenancy.current_scope() == tenancy.NO_SCOPE


@pytest.fixture
def two_tenants(app, db_session, make_tenant, make_script, make_user):
    """Tenants a and b, each with a script, an execution and a data record; plus a superadmin."""
    if backend(app) != "postgresql":
        pytest.skip("row-level security exists on PostgreSQL only; SQLite relies on the service layer")
    tenants = {}
    for key in ("a", "b"):
        tenant = make_tenant(slug=f"{key}-{uuid.uuid4().hex[:6]}")
        script = make_script(tenant, name=f"job-{key}")
        with tenancy.system_scope():
            db.session.add_all([
                Execution(tenant_id=tenant.id, script_id=script.id, trigger="manual"),
                DataRecord(tenant_id=tenant.id, collection="orders", data={"owner": key}),
            ])
            db.session.commit()
        tenants[key] = tenant.id
    make_user(role="superadmin")
    make_user(role="developer", tenant=tenants["a"])
    db.session.commit()  # end the factories' transaction: the raw connections below must not wait on it
    return tenants


@contextmanager
def app_role(app, tenant_id: str | None = None, system: bool = False):
    """A raw connection as the app role with the given scope; everything is rolled back afterwards."""
    with db.engine.connect() as connection, connection.begin() as transaction:
        connection.execute(text(f"SET LOCAL ROLE {app.config['JSR_DB_APP_ROLE']}"))
        connection.execute(text("SELECT set_config('app.tenant_id', :tenant, true),"
                                " set_config('app.system', :system, true)"),
                           {"tenant": tenant_id or "", "system": "on" if system else "off"})
        yield connection
        transaction.rollback()


def refused(connection, sql: str, **params) -> str:
    """Run `sql` in a savepoint and return the database's refusal."""
    savepoint = connection.begin_nested()
    with pytest.raises(DBAPIError) as caught:
        connection.execute(text(sql), params)
    savepoint.rollback()
    return str(caught.value.orig)


def count(connection, table: str, **where) -> int:
    clause = " AND ".join(f"{column} = :{column}" for column in where) or "true"
    return connection.execute(text(f"SELECT count(*) FROM {table} WHERE {clause}"), where).scalar()


def test_tenant_sees_and_changes_only_its_own_rows(app, two_tenants):
    a, b = two_tenants["a"], two_tenants["b"]
    with app_role(app, tenant_id=a) as connection:
        for table in TABLES:
            assert count(connection, table) == 1 and count(connection, table, tenant_id=a) == 1
            assert count(connection, table, tenant_id=b) == 0
            updated = connection.execute(
                text(f"UPDATE {table} SET tenant_id = tenant_id WHERE tenant_id = :b"), {"b": b})
            assert updated.rowcount == 0
            deleted = connection.execute(text(f"DELETE FROM {table} WHERE tenant_id = :b"), {"b": b})
            assert deleted.rowcount == 0
        assert connection.execute(text("SELECT array_agg(id) FROM tenants")).scalar() == [a]
    with app_role(app, system=True) as connection:  # b's rows are untouched
        assert all(count(connection, table, tenant_id=b) == 1 for table in TABLES)


def test_tenant_cannot_write_rows_of_another_tenant(app, two_tenants):
    a, b = two_tenants["a"], two_tenants["b"]
    with app_role(app, tenant_id=a) as connection:
        script_id = connection.execute(text("SELECT id FROM scripts")).scalar()
        assert "row-level security" in refused(
            connection,
            "INSERT INTO scripts (id, tenant_id, name, source, type) VALUES (:id, :b, 'x', '1', 'oneoff')",
            id=str(uuid.uuid4()), b=b)
        assert "row-level security" in refused(
            connection,
            "INSERT INTO executions (id, tenant_id, script_id, \"trigger\") VALUES (:id, :b, :s, 'api')",
            id=str(uuid.uuid4()), b=b, s=script_id)
        assert "row-level security" in refused(
            connection,
            "INSERT INTO data_records (id, tenant_id, collection, data) VALUES (:id, :b, 'c', '{}')",
            id=str(uuid.uuid4()), b=b)
        # Moving an own row to another tenant is refused too (WITH CHECK).
        assert "row-level security" in refused(connection, "UPDATE scripts SET tenant_id = :b", b=b)


def test_system_scope_sees_all_and_no_scope_sees_nothing(app, two_tenants):
    with app_role(app, system=True) as connection:
        assert all(count(connection, table) == 2 for table in TABLES)
        assert count(connection, "users") == 2 and count(connection, "tenants") == 2
    with app_role(app) as connection:
        assert all(count(connection, table) == 0 for table in (*TABLES, "users", "tenants"))


def test_users_without_tenant_are_visible_in_system_scope_only(app, two_tenants):
    with app_role(app, tenant_id=two_tenants["a"]) as connection:
        assert connection.execute(text("SELECT array_agg(role) FROM users")).scalar() == ["developer"]
    with app_role(app, system=True) as connection:
        assert count(connection, "users", role="superadmin") == 1


def test_orm_queries_without_tenant_filter_are_scoped(app, two_tenants):
    a, b = two_tenants["a"], two_tenants["b"]
    db.session.expunge_all()  # the identity map would answer get() without asking the database
    with tenancy.tenant_scope(a):
        assert [s.tenant_id for s in db.session.scalars(select(Script))] == [a]
        assert db.session.scalar(select(func.count()).select_from(Execution)) == 1
        assert db.session.scalar(select(Tenant.id)) == a
        other = db.session.scalar(select(Script.id).where(Script.tenant_id == b))
        assert other is None
    assert db.session.scalars(select(Script)).all() == []  # back outside any scope: fail closed
    with tenancy.system_scope():
        assert {s.tenant_id for s in db.session.scalars(select(Script))} == {a, b}
        assert db.session.scalar(select(func.count()).select_from(User)) == 2


def test_entering_a_scope_rebinds_the_open_transaction(app, two_tenants):
    a = two_tenants["a"]
    with tenancy.system_scope():
        assert db.session.scalar(select(func.count()).select_from(Script)) == 2
        assert db.session().in_transaction()
        with tenancy.tenant_scope(a):  # same transaction, narrower scope
            assert db.session.scalar(select(func.count()).select_from(Script)) == 1
        assert db.session.scalar(select(func.count()).select_from(Script)) == 2


def test_orm_insert_for_another_tenant_is_refused(app, two_tenants):
    a, b = two_tenants["a"], two_tenants["b"]
    with tenancy.tenant_scope(a):
        db.session.add(DataRecord(tenant_id=b, collection="orders", data={"forged": True}))
        with pytest.raises(DBAPIError, match="row-level security"):
            db.session.flush()
    db.session.rollback()
    with tenancy.system_scope():
        forged = select(func.count()).select_from(DataRecord).where(DataRecord.tenant_id == b)
        assert db.session.scalar(forged) == 1


def test_leaving_a_scope_after_a_database_error_keeps_that_error(app, two_tenants):
    with pytest.raises(DBAPIError, match="division by zero"), tenancy.tenant_scope(two_tenants["a"]):
        db.session.execute(text("SELECT 1 / 0"))  # aborts the transaction in PostgreSQL
    assert db.session.scalars(select(Script)).all() == []  # usable again, and outside any scope


@pytest.mark.parametrize("scope", [{"system": True}, {"tenant": "a"}])
def test_the_app_role_cannot_rewrite_history(app, two_tenants, make_user, scope):
    """Audit events and script versions are append-only in the database itself, whatever the scope."""
    tenant = two_tenants["a"]
    with tenancy.system_scope():
        db.session.add(AuditEvent(tenant_id=tenant, action="script.update", target_type="script"))
        db.session.commit()
    with app_role(app, tenant_id=tenant if "tenant" in scope else None, system="system" in scope) as connection:
        assert count(connection, "audit_events", tenant_id=tenant) == 1
        assert count(connection, "script_versions", tenant_id=tenant) == 1
        for sql in ("UPDATE audit_events SET summary = 'forged'", "DELETE FROM audit_events",
                    "UPDATE script_versions SET source = 'forged'", "DELETE FROM script_versions"):
            assert "permission denied" in refused(connection, sql)
        connection.execute(text("INSERT INTO audit_events (id, tenant_id, action, target_type)"
                                " VALUES (:id, :t, 'x.y', 'z')"), {"id": str(uuid.uuid4()), "t": tenant})


def test_a_tenant_cannot_change_its_own_limits(app, two_tenants):
    a = two_tenants["a"]
    with app_role(app, tenant_id=a) as connection:
        assert count(connection, "tenants", id=a) == 1  # it still sees itself
        raised = connection.execute(text("UPDATE tenants SET max_timeout_ms = 999999, active = true"))
        assert raised.rowcount == 0
    with app_role(app, system=True) as connection:
        assert connection.execute(text("SELECT max_timeout_ms FROM tenants WHERE id = :a"), {"a": a}).scalar() == 30000
        assert connection.execute(text("UPDATE tenants SET max_timeout_ms = 60000 WHERE id = :a"),
                                  {"a": a}).rowcount == 1


def test_deleting_a_script_takes_its_versions_along(app, two_tenants, make_user):
    """The app role cannot DELETE versions itself; the foreign key's cascade removes them with the script."""
    a = two_tenants["a"]
    admin = Actor.of(make_user(role="org_admin", tenant=a))
    script_id = scripts.list_scripts(admin, a)[0].id
    scripts.delete(admin, a, script_id)
    with app_role(app, system=True) as connection:
        assert count(connection, "script_versions", script_id=script_id) == 0
        assert count(connection, "scripts", id=script_id) == 0


def test_the_scope_settings_are_sent_once_per_transaction_and_scope(app, db_session, two_tenants):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row-level security settings exist on PostgreSQL only")
    settings = []

    def statement(_conn, _cursor, sql, *_):
        if "set_config('app.tenant_id'" in sql:
            settings.append(sql)

    event.listen(db.engine, "before_cursor_execute", statement)
    try:
        with tenancy.tenant_scope(two_tenants["a"]):
            db.session.execute(text("SELECT 1"))  # the transaction starts: its settings are sent
            with tenancy.tenant_scope(two_tenants["a"]):  # a service entering the scope it is in: nothing to send
                db.session.execute(text("SELECT 1"))
            with tenancy.system_scope():  # another scope: sent, and the outer one sent again on the way back
                db.session.execute(text("SELECT 1"))
        # leaving the tenant's scope with the transaction open: no scope, sent
        db.session.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
    assert len(settings) == 4  # the begin, system, back to the tenant, no scope (6 when every entry sent them)
