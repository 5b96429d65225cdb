"""portal workspace: users' language and time zone, a script's autosaved draft

Revision ID: 0006_portal_workspace
Revises: 0005_triggers
Create Date: 2026-11-27 08:00:00

NULL means "not chosen" (the language then follows the browser, the time zone is UTC) and "no
draft" (the editor opens the saved source).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_portal_workspace"
down_revision = "0005_triggers"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("draft_source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("draft_saved_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("draft_saved_at")
        batch.drop_column("draft_source")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("timezone")
        batch.drop_column("language")
