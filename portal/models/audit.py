"""The audit trail: AuditEvent rows are appended and never changed or removed through the ORM."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped

from portal.extensions import db
from portal.models.tenant import Column, ImmutableError, NullableColumn, created_column, id_column, json_type


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_id_created_at", "tenant_id", "created_at"),)

    id: Mapped[str] = id_column()
    # NULL for platform-level events; on PostgreSQL those are visible in system scope only.
    tenant_id: Mapped[str | None] = NullableColumn(String(36), ForeignKey("tenants.id"))
    # Plain ids, not foreign keys: the trail must keep naming users and targets that are gone.
    user_id: Mapped[str | None] = NullableColumn(String(36))
    action: Mapped[str] = Column(String(64))
    target_type: Mapped[str] = Column(String(50))
    target_id: Mapped[str | None] = NullableColumn(String(36))
    summary: Mapped[str] = Column(Text, default="", server_default="")
    details: Mapped[dict[str, Any]] = Column(json_type(), default=dict, server_default="{}")
    created_at: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} {self.target_type}:{self.target_id}>"


@event.listens_for(AuditEvent, "before_update")
def _no_update(_mapper, _connection, target: AuditEvent) -> None:
    raise ImmutableError(f"audit events are append-only ({target.action} {target.id})")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(_mapper, _connection, target: AuditEvent) -> None:
    raise ImmutableError(f"audit events are append-only ({target.action} {target.id})")
