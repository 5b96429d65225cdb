"""admin settings: a tenant's outbound HTTP rate, retention, default time zone and language; one-time sign-in links

Revision ID: 0014_admin_settings
Revises: 0010_execution_search_index
Create Date: 2026-11-27 09:30:00

NULL rate and retention mean "the platform's default" (JSR_HTTP_RATE, JSR_RETENTION_DAYS); a NULL
language means "the browser's". A user's one-time sign-in link is kept as the sha256 of its secret
with its expiry, on the user row (users already have row-level security); using it clears both.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014_admin_settings"
down_revision = "0010_execution_search_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("max_http_per_minute", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False))
        batch.add_column(sa.Column("language", sa.String(length=5), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("signin_token_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("signin_token_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint(op.f("uq_users_signin_token_hash"), ["signin_token_hash"])


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("uq_users_signin_token_hash"), type_="unique")
        batch.drop_column("signin_token_expires_at")
        batch.drop_column("signin_token_hash")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("language")
        batch.drop_column("timezone")
        batch.drop_column("retention_days")
        batch.drop_column("max_http_per_minute")
