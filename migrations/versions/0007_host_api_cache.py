"""host API cache: cache_entries for ctx.cache when no Redis is configured

Revision ID: 0007_host_api_cache
Revises: 0006_portal_workspace
Create Date: 2026-11-27 07:10:00

A tenant-owned table, so on PostgreSQL it gets the grants and the tenant_isolation policy
every tenant table has (0002_row_level_security).
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from portal.tenancy import role_identifier as _role

# revision identifiers, used by Alembic.
revision = "0007_host_api_cache"
down_revision = "0006_portal_workspace"
branch_labels = None
depends_on = None

RULE = "current_setting('app.system', true) = 'on' OR tenant_id = current_setting('app.tenant_id', true)"


def upgrade():
    op.create_table(
        "cache_entries",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_cache_entries_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "key", name=op.f("pk_cache_entries")),
    )
    op.create_index("ix_cache_entries_expires_at", "cache_entries", ["expires_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _role()
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON cache_entries TO {role}")
    op.execute("ALTER TABLE cache_entries ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE cache_entries FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON cache_entries USING ({RULE}) WITH CHECK ({RULE})")


def downgrade():
    op.drop_table("cache_entries")  # its policy and grants go with it
