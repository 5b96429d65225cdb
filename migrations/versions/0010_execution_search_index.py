"""execution search index: trigram indexes on the JSON text of inputs and outputs (PostgreSQL only)

Revision ID: 0010_execution_search_index
Revises: 0009_execution_outbound_calls
Create Date: 2026-11-27 08:30:00

The history's search finds a value inside inputs and outputs with `CAST(input AS text) ILIKE '%…%'`
(portal/services/executions.py: icontains, which PostgreSQL gets as ILIKE). A pg_trgm GIN index on
exactly that expression serves it, so a search need not read every run of the tenant. SQLite has
no such index: a no-op there. The migration runs as the database owner, which may create pg_trgm
(a trusted extension); the downgrade leaves the extension, which other objects may use.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_execution_search_index"
down_revision = "0009_execution_outbound_calls"
branch_labels = None
depends_on = None

COLUMNS = ("input", "output")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        op.execute(f"CREATE INDEX ix_executions_{column}_trgm ON executions"
                   f" USING gin ((CAST({column} AS text)) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX ix_executions_{column}_trgm")
