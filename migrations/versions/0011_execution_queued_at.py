"""execution queued_at: when a pending run was last handed to the queue, so a lost hand-over is relayed;
indexes of the running executions per tenant and per script, which the quotas count

Revision ID: 0011_execution_queued_at
Revises: 0012_dashboard_index
Create Date: 2026-11-27 09:30:00
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_execution_queued_at"
down_revision = "0012_dashboard_index"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
RUNNING = sa.text("status = 'running'")


def upgrade():
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE executions SET queued_at = created_at WHERE status = 'pending'")
    op.create_index("ix_executions_pending_queued_at", "executions", ["queued_at"], sqlite_where=PENDING,
                    postgresql_where=PENDING)
    for column in ("tenant_id", "script_id"):
        op.create_index(f"ix_executions_running_{column}", "executions", [column], sqlite_where=RUNNING,
                        postgresql_where=RUNNING)


def downgrade():
    for column in ("tenant_id", "script_id"):
        op.drop_index(f"ix_executions_running_{column}", table_name="executions")
    op.drop_index("ix_executions_pending_queued_at", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("queued_at")
