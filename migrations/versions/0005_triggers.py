"""triggers: schedule slots of scheduled runs, domain events (the outbox), retries and dead-letter replay

Revision ID: 0005_triggers
Revises: 0004_database_enforcement
Create Date: 2026-11-27 07:20:00

* `executions.scheduled_for` is the slot a `schedule` run was fired for (the script sees it as
  ctx.trigger.scheduledAt); a unique (script_id, scheduled_for) makes the database refuse a second run
  of one slot, whatever two schedulers do.
* `events` holds each published domain event, written in the transaction of the change that caused it
  and relayed to the queue after commit; `executions.event_id` names the event a run delivers, unique
  per (event, script, attempt) so a retry is written once.
* `dead_letters` gain the event, a status (`dead` | `replayed`) and the execution a replay started.
NULLs never collide in these unique constraints on either backend. On PostgreSQL `events` gets the
app role's grants and the tenant policy of migration 0002.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from portal.tenancy import role_identifier as _role_name

# revision identifiers, used by Alembic.
revision = "0005_triggers"
down_revision = "0004_database_enforcement"
branch_labels = None
depends_on = None

RULE = "current_setting('app.system', true) = 'on' OR tenant_id = current_setting('app.tenant_id', true)"


def upgrade():
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True),
                                                                     "postgresql"), nullable=True),
        sa.Column("depth", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("\"status\" IN ('pending', 'delivered')", name=op.f("ck_events_status_known")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_events_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_tenant_id_created_at", "events", ["tenant_id", "created_at"])
    pending = sa.text("status = 'pending'")
    op.create_index("ix_events_pending", "events", ["created_at"], sqlite_where=pending, postgresql_where=pending)
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("event_id", sa.String(length=36), nullable=True))
        batch.create_unique_constraint("uq_executions_script_id_scheduled_for", ["script_id", "scheduled_for"])
        batch.create_unique_constraint("uq_executions_event_id_script_id_attempt",
                                       ["event_id", "script_id", "attempt"])
        batch.create_foreign_key("fk_executions_event_id_events", "events", ["event_id"], ["id"],
                                 ondelete="SET NULL")
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("event_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("status", sa.String(length=20), server_default="dead", nullable=False))
        batch.add_column(sa.Column("replay_execution_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_dead_letters_execution_id", ["execution_id"])
        batch.create_check_constraint("status_known", "\"status\" IN ('dead', 'replayed')")
        batch.create_foreign_key("fk_dead_letters_event_id_events", "events", ["event_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_foreign_key("fk_dead_letters_replay_execution_id_executions", "executions",
                                 ["replay_execution_id"], ["id"], ondelete="SET NULL")
    if op.get_bind().dialect.name == "postgresql":
        role = _role_name()
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON events TO {role}")
        op.execute("ALTER TABLE events ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE events FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY tenant_isolation ON events USING ({RULE}) WITH CHECK ({RULE})")


def downgrade():
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_constraint("fk_dead_letters_replay_execution_id_executions", type_="foreignkey")
        batch.drop_constraint("fk_dead_letters_event_id_events", type_="foreignkey")
        batch.drop_constraint("status_known", type_="check")
        batch.drop_constraint("uq_dead_letters_execution_id", type_="unique")
        batch.drop_column("replayed_at")
        batch.drop_column("replay_execution_id")
        batch.drop_column("status")
        batch.drop_column("event_id")
    with op.batch_alter_table("executions") as batch:
        batch.drop_constraint("fk_executions_event_id_events", type_="foreignkey")
        batch.drop_constraint("uq_executions_event_id_script_id_attempt", type_="unique")
        batch.drop_constraint("uq_executions_script_id_scheduled_for", type_="unique")
        batch.drop_column("event_id")
        batch.drop_column("scheduled_for")
    op.drop_table("events")  # its policy goes with it
