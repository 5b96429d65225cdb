"""The tenant aggregate (Tenant, Organization) and the column conventions every table shares.

The shared pieces live here because every tenant-owned table points at `tenants.id`:
text UUID ids, non-null by default (`Column`), timezone-aware UTC timestamps and JSON that
is JSONB on PostgreSQL.
"""

import re
import uuid
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    DateTime,
    ForeignKey,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    cast,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from portal.extensions import db

# Nullability is a decision: columns are NOT NULL unless declared with NullableColumn.
Column = partial(mapped_column, nullable=False)
NullableColumn = partial(mapped_column, nullable=True)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class ImmutableError(RuntimeError):
    """An attempt to change a row that is written once (script versions, audit events)."""


def new_id() -> str:
    return str(uuid.uuid4())


# new_id's form (a random version-4 UUID, 36 lowercase characters) built by SQLite, which has no UUID function.
_SQLITE_NEW_ID = ("lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
                  "substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || "
                  "substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))")


def new_id_sql(dialect: str) -> ColumnElement[str]:
    """An id like new_id() made by the database, one per row: for rows written by INSERT … SELECT, whose
    ids no Python code has to build."""
    if dialect == "postgresql":
        return cast(func.gen_random_uuid(), String)
    return literal_column(_SQLITE_NEW_ID, String)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """DateTime(timezone=True) that is aware UTC on both backends.

    SQLite keeps no offset, so values are normalised to UTC on the way in and read back
    as aware UTC; PostgreSQL's timestamptz already does this.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # naive values are taken to be UTC already
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """CHECK that a string column holds one of `values` (portable, unlike native enums)."""
    listed = ", ".join(repr(v) for v in values)
    return CheckConstraint(f'"{column}" IN ({listed})', name=f"{column}_known")


def json_type(*, none_as_null: bool = False):
    """JSON everywhere, JSONB on PostgreSQL (indexable, compact). none_as_null: None is SQL NULL."""
    return JSON(none_as_null=none_as_null).with_variant(JSONB(none_as_null=none_as_null), "postgresql")


def id_column() -> Mapped[str]:
    return Column(String(36), primary_key=True, default=new_id)


def created_column() -> Mapped[datetime]:
    return Column(UTCDateTime(), default=utcnow, server_default=func.now())


def updated_column() -> Mapped[datetime]:
    return Column(UTCDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now())


def tenant_fk() -> Mapped[str]:
    """The tenant_id every tenant-owned row carries; PostgreSQL row-level security keys on it.

    Not indexed on its own: each table gets an index or unique constraint that leads with
    tenant_id, which serves tenant filters as well.
    """
    return Column(String(36), ForeignKey("tenants.id"))


class Tenant(db.Model):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("slug = lower(slug)", name="slug_lowercase"),)

    id: Mapped[str] = id_column()
    slug: Mapped[str] = Column(String(64), unique=True)
    name: Mapped[str] = Column(String(200))
    active: Mapped[bool] = Column(Boolean, default=True, server_default=text("true"))
    # Ceilings for per-script limits (ARCHITECTURE.md §3).
    max_timeout_ms: Mapped[int] = Column(Integer, default=30_000, server_default=text("30000"))
    max_memory_mb: Mapped[int] = Column(Integer, default=64, server_default=text("64"))
    max_host_calls: Mapped[int] = Column(Integer, default=100, server_default=text("100"))
    max_concurrency: Mapped[int] = Column(Integer, default=5, server_default=text("5"))
    # Set by org admins (portal/services/tenants.py); NULL: the platform's JSR_HTTP_RATE / JSR_RETENTION_DAYS.
    max_http_per_minute: Mapped[int | None] = NullableColumn(Integer)
    retention_days: Mapped[int | None] = NullableColumn(Integer)
    # Defaults for members who chose none; a NULL language follows the browser.
    timezone: Mapped[str] = Column(String(64), default="UTC", server_default="UTC")
    language: Mapped[str | None] = NullableColumn(String(5))
    created_at: Mapped[datetime] = created_column()

    @validates("slug")
    def _check_slug(self, _key: str, slug: str) -> str:
        """The slug is part of public URLs (/hooks/<slug>/...): refuse anything but [a-z0-9-]."""
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise ValueError(f"invalid tenant slug {slug!r}: lowercase letters, digits and dashes")
        return slug

    def __repr__(self) -> str:
        return f"<Tenant {self.slug}>"


class Organization(db.Model):
    __tablename__ = "organizations"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_organizations_tenant_id_name"),)

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    name: Mapped[str] = Column(String(200))
    created_at: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<Organization {self.name}>"
