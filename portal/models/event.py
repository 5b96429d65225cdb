"""Domain events: each published event is a row written with the change that caused it (the outbox)."""

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, text
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

EVENT_STATUSES = ("pending", "delivered")


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_tenant_id_created_at", "tenant_id", "created_at"),
        # The relay's scan for events a queue outage left behind reads only this small partial index.
        Index("ix_events_pending", "created_at", sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        one_of("status", EVENT_STATUSES),
    )

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    type: Mapped[str] = Column(String(200))
    payload: Mapped[Any] = NullableColumn(json_type(none_as_null=True))
    # How many events led to this one (0: published by the portal or the API); bounded by JSR_EVENT_MAX_DEPTH.
    depth: Mapped[int] = Column(Integer, default=0, server_default=text("0"))
    status: Mapped[str] = Column(String(20), default="pending", server_default="pending")
    created_at: Mapped[datetime] = created_column()
    delivered_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Event {self.type} {self.status}>"
