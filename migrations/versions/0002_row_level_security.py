"""row-level security: the app role and one tenant policy per table (PostgreSQL only)

Revision ID: 0002_row_level_security
Revises: 0001_tables
Create Date: 2026-11-23 14:20:00

The app connects as the owner (which runs migrations) and, in every transaction of
db.session, switches to the non-owner role JSR_DB_APP_ROLE with `app.tenant_id` and
`app.system` set (portal/tenancy.py). FORCE makes the policies hold even for the owner;
only a superuser or a BYPASSRLS role escapes them, and the app never stays one.

A row is visible and writable when the transaction is in system scope or the row's
tenant matches. Rows with a NULL tenant (superadmins, platform audit events) compare as
NULL, so only system scope sees them. Without any scope nothing is visible: fail closed.

Tables added by later migrations must be granted and given the same policy there.
"""
from alembic import op

from portal.tenancy import role_identifier as _role

# revision identifiers, used by Alembic.
revision = "0002_row_level_security"
down_revision = "0001_tables"
branch_labels = None
depends_on = None

# table -> column holding the tenant id
TENANT_TABLES = {
    "tenants": "id",
    "organizations": "tenant_id",
    "users": "tenant_id",
    "api_tokens": "tenant_id",
    "scripts": "tenant_id",
    "script_versions": "tenant_id",
    "executions": "tenant_id",
    "dead_letters": "tenant_id",
    "audit_events": "tenant_id",
    "secrets": "tenant_id",
    "data_records": "tenant_id",
}
POLICY = "tenant_isolation"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _role()
    # Roles are cluster-wide: create it once; a concurrent migration of another database may race us.
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END
        $$""")
    op.execute(f"GRANT {role} TO CURRENT_USER")  # so that the login role may SET ROLE to it
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    for table, column in TENANT_TABLES.items():
        rule = (f"current_setting('app.system', true) = 'on'"
                f" OR {column} = current_setting('app.tenant_id', true)")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({rule}) WITH CHECK ({rule})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _role()
    # The role stays: it is cluster-wide and other databases may use it.
    for table in reversed(TENANT_TABLES):
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"REVOKE SELECT, INSERT, UPDATE, DELETE ON {table} FROM {role}")
