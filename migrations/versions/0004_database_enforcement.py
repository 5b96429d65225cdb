"""database enforcement: append-only history for the app role, tenants read-only in tenant scope,
hook secrets stored encrypted

Revision ID: 0004_database_enforcement
Revises: 0003_withdrawable_access
Create Date: 2026-11-28 11:00:00

On PostgreSQL the app role (JSR_DB_APP_ROLE) keeps only SELECT and INSERT on audit_events and
script_versions: the ORM guards were the only thing keeping them append-only. Deleting a script still
removes its versions, through the foreign key's ON DELETE CASCADE (referential actions run as the
table's owner). In tenant scope the app role may read its tenant's row but no longer change it (its
limits, its `active` flag): writes to `tenants` need system scope.

On both backends `scripts.http_secret` becomes TEXT: it holds a Fernet token (as tenant secrets do),
which is longer than the plaintext.
"""
import sqlalchemy as sa
from alembic import op

from portal.tenancy import role_identifier as _role_name

# revision identifiers, used by Alembic.
revision = "0004_database_enforcement"
down_revision = "0003_withdrawable_access"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_events", "script_versions")
SYSTEM = "current_setting('app.system', true) = 'on'"
OWN_TENANT = "id = current_setting('app.tenant_id', true)"


def upgrade():
    with op.batch_alter_table("scripts") as batch:
        batch.alter_column("http_secret", type_=sa.Text(), existing_type=sa.String(length=200),
                           existing_nullable=True)
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _role_name()
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {role}")
    op.execute("DROP POLICY tenant_isolation ON tenants")
    op.execute(f"CREATE POLICY tenant_read ON tenants FOR SELECT USING ({SYSTEM} OR {OWN_TENANT})")
    op.execute(f"CREATE POLICY system_write ON tenants FOR ALL USING ({SYSTEM}) WITH CHECK ({SYSTEM})")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        role = _role_name()
        op.execute("DROP POLICY system_write ON tenants")
        op.execute("DROP POLICY tenant_read ON tenants")
        rule = f"{SYSTEM} OR {OWN_TENANT}"
        op.execute(f"CREATE POLICY tenant_isolation ON tenants USING ({rule}) WITH CHECK ({rule})")
        for table in APPEND_ONLY:
            op.execute(f"GRANT UPDATE, DELETE ON {table} TO {role}")
    with op.batch_alter_table("scripts") as batch:
        batch.alter_column("http_secret", type_=sa.String(length=200), existing_type=sa.Text(),
                           existing_nullable=True)
