"""DataRecord: the tenant-scoped JSON document store behind a script's ctx.db."""

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped

from portal.extensions import db
from portal.models.tenant import Column, created_column, id_column, json_type, tenant_fk, updated_column


class DataRecord(db.Model):
    __tablename__ = "data_records"
    __table_args__ = (Index("ix_data_records_tenant_id_collection", "tenant_id", "collection"),)

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    collection: Mapped[str] = Column(String(64))
    data: Mapped[Any] = Column(json_type())
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()

    def __repr__(self) -> str:
        return f"<DataRecord {self.collection}/{self.id}>"
