"""withdrawable access: session versions of users, expiry of API tokens

Revision ID: 0003_withdrawable_access
Revises: 0002_row_level_security
Create Date: 2026-11-28 10:00:00

Batch operations so that SQLite (which cannot ALTER much) gets the same columns as PostgreSQL.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003_withdrawable_access"
down_revision = "0002_row_level_security"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_version", sa.Integer(), server_default=sa.text("1"), nullable=False))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
