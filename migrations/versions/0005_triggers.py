"""triggers: the schedule slot of each scheduled run, unique per script

Revision ID: 0005_triggers
Revises: 0004_database_enforcement
Create Date: 2026-11-27 07:20:00

`executions.scheduled_for` is the slot a `schedule` run was fired for (the script sees it as
ctx.trigger.scheduledAt); a unique (script_id, scheduled_for) makes the database refuse a second run
of one slot, whatever two schedulers do. NULLs (every other trigger) never collide on either backend.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_triggers"
down_revision = "0004_database_enforcement"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_executions_script_id_scheduled_for", ["script_id", "scheduled_for"])


def downgrade():
    with op.batch_alter_table("executions") as batch:
        batch.drop_constraint("uq_executions_script_id_scheduled_for", type_="unique")
        batch.drop_column("scheduled_for")
