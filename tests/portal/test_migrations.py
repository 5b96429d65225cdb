"""The migrations are the schema: one head, reversible, and in step with the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from portal.config import ROOT
from portal.extensions import created_on, db
from tests.conftest import backend, fresh_database, make_app

TENANT_TABLES = {"tenants", "organizations", "users", "api_tokens", "scripts", "script_versions",
                 "executions", "dead_letters", "audit_events", "secrets", "data_records", "events",
                 "cache_entries", "libraries", "library_versions"}


def test_exactly_one_head():
    heads = ScriptDirectory(str(ROOT / "migrations")).get_heads()
    assert len(heads) == 1, f"several Alembic heads, merge them: {heads}"


def test_models_match_migrations(app, db_session):
    """Autogenerate would find nothing to do: the migrations build exactly what the models declare."""
    with db.engine.connect() as connection:
        dialect = connection.dialect.name
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": lambda item, *_: created_on(item, dialect)})
        assert compare_metadata(context, db.metadata) == []


def _row_security(connection) -> dict[str, tuple[bool, bool, int]]:
    rows = connection.execute(text(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r'"))
    return {name: (enabled, forced, policies) for name, enabled, forced, policies in rows}


def test_upgrade_downgrade_upgrade(app, tmp_path):
    """Round trip on a fresh database of the same backend as `app`."""
    with fresh_database(backend(app), tmp_path) as uri:
        other = make_app(uri)
        with other.app_context():
            upgrade()
            assert TENANT_TABLES <= set(inspect(db.engine).get_table_names())
            if backend(other) == "postgresql":
                with db.engine.connect() as connection:
                    security = _row_security(connection)
                assert all(security[t][:2] == (True, True) and security[t][2] >= 1 for t in TENANT_TABLES), security
                downgrade(revision="0001_tables")
                with db.engine.connect() as connection:
                    security = _row_security(connection)
                # Tables of later migrations are gone; those of 0001 are left without row security.
                assert all(security.get(t, (False, False, 0)) == (False, False, 0) for t in TENANT_TABLES), security
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade()
            assert TENANT_TABLES <= set(inspect(db.engine).get_table_names())
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                    ScriptDirectory(str(ROOT / "migrations")).get_current_head())
            db.engine.dispose()
