"""execution outbound calls: what each run touched through the host APIs

Revision ID: 0009_execution_outbound_calls
Revises: 0008_libraries
Create Date: 2026-11-27 07:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0009_execution_outbound_calls"
down_revision = "0008_libraries"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("outbound_calls", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                                   server_default="[]", nullable=False))


def downgrade():
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("outbound_calls")
