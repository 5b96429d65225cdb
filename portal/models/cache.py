"""CacheEntry: a script's `ctx.cache` in the app database, when no Redis is configured."""

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.tenant import Column, UTCDateTime, json_type


class CacheEntry(db.Model):
    __tablename__ = "cache_entries"
    __table_args__ = (Index("ix_cache_entries_expires_at", "expires_at"),)

    tenant_id: Mapped[str] = mapped_column(String(36), ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = Column(json_type())
    expires_at: Mapped[datetime] = Column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<CacheEntry {self.key}>"
