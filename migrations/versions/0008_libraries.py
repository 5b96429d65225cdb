"""libraries: tenant libraries and their versions (ES modules scripts import by name)

Revision ID: 0008_libraries
Revises: 0007_host_api_cache
Create Date: 2026-11-27 07:30:00

Both tables are tenant-owned: on PostgreSQL they get the tenant_isolation policy of
0002_row_level_security, and library_versions is append-only for the app role as
script_versions is (0004): deleting a library removes its versions through the foreign
key's ON DELETE CASCADE, which runs as the table's owner.
"""
import sqlalchemy as sa
from alembic import op

from portal.tenancy import role_identifier as _role

# revision identifiers, used by Alembic.
revision = "0008_libraries"
down_revision = "0007_host_api_cache"
branch_labels = None
depends_on = None

RULE = "current_setting('app.system', true) = 'on' OR tenant_id = current_setting('app.tenant_id', true)"
NOW = sa.func.now()


def upgrade():
    op.create_table(
        "libraries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("current_version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_libraries_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_libraries")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_libraries_tenant_id_name")),
    )
    op.create_table(
        "library_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("library_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("change_description", sa.Text(), server_default="", nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(["library_id"], ["libraries.id"], ondelete="CASCADE",
                                name=op.f("fk_library_versions_library_id_libraries")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_library_versions_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_versions")),
        sa.UniqueConstraint("library_id", "version", name=op.f("uq_library_versions_library_id_version")),
    )
    op.create_index("ix_library_versions_tenant_id", "library_versions", ["tenant_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _role()
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON libraries TO {role}")
    op.execute(f"GRANT SELECT, INSERT ON library_versions TO {role}")
    for table in ("libraries", "library_versions"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({RULE}) WITH CHECK ({RULE})")


def downgrade():
    op.drop_table("library_versions")  # policies and grants go with the tables
    op.drop_table("libraries")
