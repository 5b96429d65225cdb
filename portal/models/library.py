"""Tenant libraries: reusable ES modules a script imports by name (`import {x} from 'my-lib'`)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, object_session

from portal.extensions import db
from portal.models.tenant import (
    Column,
    ImmutableError,
    NullableColumn,
    created_column,
    id_column,
    tenant_fk,
    updated_column,
)


class Library(db.Model):
    __tablename__ = "libraries"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_libraries_tenant_id_name"),)

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    name: Mapped[str] = Column(String(64))  # the import specifier
    description: Mapped[str] = Column(Text, default="", server_default="")
    source: Mapped[str] = Column(Text)  # the current version's
    current_version: Mapped[int] = Column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()

    def __repr__(self) -> str:
        return f"<Library {self.name} v{self.current_version}>"


class LibraryVersion(db.Model):
    """One saved state of a library's source. Rows are written once and never changed."""

    __tablename__ = "library_versions"
    __table_args__ = (
        UniqueConstraint("library_id", "version", name="uq_library_versions_library_id_version"),
        Index("ix_library_versions_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = id_column()
    library_id: Mapped[str] = Column(String(36), ForeignKey("libraries.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = tenant_fk()
    version: Mapped[int] = Column(Integer)
    source: Mapped[str] = Column(Text)
    change_description: Mapped[str] = Column(Text, default="", server_default="")
    author_id: Mapped[str | None] = NullableColumn(String(36))  # a plain id: history outlives its author
    created_at: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<LibraryVersion {self.library_id} v{self.version}>"


@event.listens_for(LibraryVersion, "before_update")
def _versions_are_immutable(_mapper, _connection, target: LibraryVersion) -> None:
    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise ImmutableError(f"library versions are immutable (library {target.library_id} v{target.version})")
