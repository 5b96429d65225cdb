"""dashboard indexes: covering the dashboard's aggregates per tenant and per script; percentiles on SQLite

Revision ID: 0012_dashboard_index
Revises: 0014_admin_settings
Create Date: 2026-11-27 09:30:00

The dashboard (portal/services/dashboard.py) counts, groups and ranks a tenant's executions of a time
range by status, script and duration: each time bucket counts its runs along (tenant_id, created_at,
status, script_id, duration_ms), each script along (script_id, created_at, status, duration_ms,
tenant_id), reading the index alone, never the rows with their large JSON columns (the tenant is in
both so that PostgreSQL's row-level security policy is checked on the index entry). They start with
(tenant_id, created_at) and (script_id, created_at), so they replace the two indexes of that name.
SQLite has no percentile_cont: the duration percentiles are read there by offset along
(tenant_id, duration_ms, created_at) instead of sorting the range (PostgreSQL sorts; no index).
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_dashboard_index"
down_revision = "0014_admin_settings"
branch_labels = None
depends_on = None

COLUMNS = ["tenant_id", "created_at", "status", "script_id", "duration_ms"]
SCRIPT_COLUMNS = ["script_id", "created_at", "status", "duration_ms", "tenant_id"]
SQLITE_DURATION_COLUMNS = ["tenant_id", "duration_ms", "created_at"]


def upgrade():
    op.create_index("ix_executions_dashboard", "executions", COLUMNS)
    op.drop_index("ix_executions_tenant_id_created_at", table_name="executions")
    op.create_index("ix_executions_script_id_figures", "executions", SCRIPT_COLUMNS)
    op.drop_index("ix_executions_script_id_created_at", table_name="executions")
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_executions_tenant_id_duration", "executions", SQLITE_DURATION_COLUMNS)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_executions_tenant_id_duration", table_name="executions")
    op.create_index("ix_executions_script_id_created_at", "executions", ["script_id", "created_at"])
    op.drop_index("ix_executions_script_id_figures", table_name="executions")
    op.create_index("ix_executions_tenant_id_created_at", "executions", ["tenant_id", "created_at"])
    op.drop_index("ix_executions_dashboard", table_name="executions")
