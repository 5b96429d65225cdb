"""Runs: Execution (one per run, whatever started it) and DeadLetter (work that gave up)."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, cast, text
from sqlalchemy.orm import Mapped

from portal.extensions import db
from portal.models.tenant import (
    Column,
    NullableColumn,
    UTCDateTime,
    created_column,
    id_column,
    json_type,
    one_of,
    tenant_fk,
)

EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "timeout", "cancelled")
TRIGGERS = ("manual", "schedule", "http", "event", "api", "embedded", "test")


def error_record(kind: str, type_: str, message: str) -> dict[str, Any]:
    """An execution's `error` for a run that ended outside the script (cancelled, not stored, worker lost)."""
    return {"kind": kind, "type": type_, "message": message, "line": None, "column": None, "stack": ""}


class Execution(db.Model):
    __tablename__ = "executions"
    __table_args__ = (
        # A script's history, and its figures on the dashboard (migration 0012).
        Index("ix_executions_script_id_figures", "script_id", "created_at", "status", "duration_ms", "tenant_id"),
        Index("ix_executions_tenant_id_status", "tenant_id", "status"),
        # The history's order (tenant, newest first), and covering every aggregate of the dashboard
        # (portal/services/dashboard.py), so that no JSON column is read for it (migration 0012).
        Index("ix_executions_dashboard", "tenant_id", "created_at", "status", "script_id", "duration_ms"),
        Index("ix_executions_pending_queued_at", "queued_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        # The quotas count running executions per tenant and per script (executions._claim): small indexes.
        Index("ix_executions_running_tenant_id", "tenant_id", sqlite_where=text("status = 'running'"),
              postgresql_where=text("status = 'running'")),
        Index("ix_executions_running_script_id", "script_id", sqlite_where=text("status = 'running'"),
              postgresql_where=text("status = 'running'")),
        # A schedule slot runs once: the scheduler's claim makes sure, and the database refuses a second run.
        # NULL (every other trigger) never collides on either backend.
        UniqueConstraint("script_id", "scheduled_for", name="uq_executions_script_id_scheduled_for"),
        # One attempt of one event per script: a retry is written once, however often its follow-up runs.
        UniqueConstraint("event_id", "script_id", "attempt", name="uq_executions_event_id_script_id_attempt"),
        one_of("status", EXECUTION_STATUSES),
        one_of("trigger", TRIGGERS),
    )

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    script_id: Mapped[str] = Column(String(36), ForeignKey("scripts.id", ondelete="CASCADE"))
    script_version: Mapped[int | None] = NullableColumn(Integer)
    status: Mapped[str] = Column(String(20), default="pending", server_default="pending")
    trigger: Mapped[str] = Column(String(20))
    # none_as_null: a run without input/output/error stores SQL NULL, not the JSON 'null'.
    input: Mapped[Any] = NullableColumn(json_type(none_as_null=True))
    output: Mapped[Any] = NullableColumn(json_type(none_as_null=True))
    logs: Mapped[list] = Column(json_type(), default=list, server_default="[]")
    # {kind, type, message, line, column, stack}
    error: Mapped[dict | None] = NullableColumn(json_type(none_as_null=True))
    duration_ms: Mapped[float | None] = NullableColumn(Float)
    memory_bytes: Mapped[int | None] = NullableColumn(BigInteger)
    host_calls: Mapped[int] = Column(Integer, default=0, server_default=text("0"))
    # What the run touched, one entry per host call: api, method, target, status, ms, bytes, ok.
    outbound_calls: Mapped[list] = Column(json_type(), default=list, server_default="[]")
    attempt: Mapped[int] = Column(Integer, default=1, server_default=text("1"))
    # A plain user id, not a foreign key: the record of a run outlives the user who started it.
    triggered_by: Mapped[str | None] = NullableColumn(String(36))
    # The schedule slot a `schedule` run is for (ctx.trigger.scheduledAt); NULL for other triggers.
    scheduled_for: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    # The event an `event` run delivers (its retries share it); NULL for other triggers.
    event_id: Mapped[str | None] = NullableColumn(String(36), ForeignKey("events.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_column()
    # When a pending run was last handed to the queue (or is due from it): the relay hands over again the
    # runs whose hand-over was lost (executions.relay_pending). NULL for inline runs, which never queue.
    queued_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    started_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    finished_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Execution {self.id} {self.status}>"


# The dashboard's duration percentiles on SQLite, which lacks percentile_cont, step along this index by
# offset instead of sorting (portal/services/dashboard.py; migration 0012).
Index("ix_executions_tenant_id_duration", Execution.tenant_id, Execution.duration_ms, Execution.created_at
      ).ddl_if(dialect="sqlite")
# The history's search, `CAST(input AS text) ILIKE '%…%'`, reads these trigram indexes on PostgreSQL (migration 0010).
Index("ix_executions_input_trgm", cast(Execution.input, Text).label("input_text"), postgresql_using="gin",
      postgresql_ops={"input_text": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
Index("ix_executions_output_trgm", cast(Execution.output, Text).label("output_text"), postgresql_using="gin",
      postgresql_ops={"output_text": "gin_trgm_ops"}).ddl_if(dialect="postgresql")


DEAD_LETTER_STATUSES = ("dead", "replayed")


class DeadLetter(db.Model):
    """An event delivery or run that failed every retry, kept for inspection and replay."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index("ix_dead_letters_tenant_id_created_at", "tenant_id", "created_at"),
        UniqueConstraint("execution_id", name="uq_dead_letters_execution_id"),  # one per failed last attempt
        one_of("status", DEAD_LETTER_STATUSES),
    )

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    script_id: Mapped[str | None] = NullableColumn(String(36), ForeignKey("scripts.id", ondelete="SET NULL"))
    execution_id: Mapped[str | None] = NullableColumn(
        String(36), ForeignKey("executions.id", ondelete="SET NULL"))
    event_type: Mapped[str] = Column(String(200))
    payload: Mapped[Any] = NullableColumn(json_type(none_as_null=True))
    error: Mapped[dict | None] = NullableColumn(json_type(none_as_null=True))
    attempts: Mapped[int] = Column(Integer, default=0, server_default=text("0"))
    event_id: Mapped[str | None] = NullableColumn(String(36), ForeignKey("events.id", ondelete="SET NULL"))
    status: Mapped[str] = Column(String(20), default="dead", server_default="dead")
    # The execution a replay started (the replay's own attempts and dead letter follow from it).
    replay_execution_id: Mapped[str | None] = NullableColumn(
        String(36), ForeignKey("executions.id", ondelete="SET NULL"))
    replayed_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    created_at: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<DeadLetter {self.event_type} after {self.attempts} attempts>"
