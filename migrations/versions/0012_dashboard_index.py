"""dashboard index: one index that covers every aggregate of the dashboard

Revision ID: 0012_dashboard_index
Revises: 0010_execution_search_index
Create Date: 2026-11-27 09:30:00

The dashboard (portal/services/dashboard.py) counts, groups and ranks a tenant's executions of a time
range by status, script and duration. With (tenant_id, created_at, status, script_id, duration_ms)
every one of those queries reads the index alone, never the rows with their large JSON columns.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_dashboard_index"
down_revision = "0010_execution_search_index"
branch_labels = None
depends_on = None

COLUMNS = ["tenant_id", "created_at", "status", "script_id", "duration_ms"]


def upgrade():
    op.create_index("ix_executions_dashboard", "executions", COLUMNS)


def downgrade():
    op.drop_index("ix_executions_dashboard", table_name="executions")
