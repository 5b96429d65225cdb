"""The script aggregate: Script and its immutable ScriptVersion history."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, object_session

from portal.extensions import db
from portal.models.secret import fernet_for
from portal.models.tenant import (
    Column,
    ImmutableError,
    NullableColumn,
    UTCDateTime,
    created_column,
    id_column,
    json_type,
    one_of,
    tenant_fk,
    updated_column,
)

SCRIPT_TYPES = ("scheduled", "http", "event", "oneoff", "embedded")
SCRIPT_STATUSES = ("draft", "active", "paused", "disabled", "archived")
HTTP_AUTH_MODES = ("none", "token", "hmac")


class Script(db.Model):
    __tablename__ = "scripts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_scripts_tenant_id_name"),
        # NULL paths (non-HTTP scripts) do not collide on either backend. The methods are not
        # part of the key: a JSON column is no sensible btree key on PostgreSQL; the hooks
        # route matches (tenant, path) and then checks the method list.
        UniqueConstraint("tenant_id", "http_path", name="uq_scripts_tenant_id_http_path"),
        Index("ix_scripts_tenant_id_status", "tenant_id", "status"),
        Index("ix_scripts_tenant_id_type_status", "tenant_id", "type", "status"),
        # The scheduler's scan of due scripts reads only this small partial index.
        Index("ix_scripts_due", "next_run_at",
              sqlite_where=text("type = 'scheduled' AND status = 'active'"),
              postgresql_where=text("type = 'scheduled' AND status = 'active'")),
        one_of("type", SCRIPT_TYPES),
        one_of("status", SCRIPT_STATUSES),
        one_of("http_auth", HTTP_AUTH_MODES),
    )

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    organization_id: Mapped[str | None] = NullableColumn(
        String(36), ForeignKey("organizations.id", ondelete="SET NULL"))
    name: Mapped[str] = Column(String(100))
    description: Mapped[str] = Column(Text, default="", server_default="")
    source: Mapped[str] = Column(Text)
    type: Mapped[str] = Column(String(20))
    status: Mapped[str] = Column(String(20), default="draft", server_default="draft")
    # Per-script limits; NULL means the configured default, always capped by the tenant's maxima.
    timeout_ms: Mapped[int | None] = NullableColumn(Integer)
    memory_mb: Mapped[int | None] = NullableColumn(Integer)
    host_calls: Mapped[int | None] = NullableColumn(Integer)
    concurrency: Mapped[int | None] = NullableColumn(Integer)
    cron_expression: Mapped[str | None] = NullableColumn(String(100))
    timezone: Mapped[str] = Column(String(64), default="UTC", server_default="UTC")
    next_run_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    # The scheduler's claim on a running scheduled script (who, until when).
    locked_until: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    locked_by: Mapped[str | None] = NullableColumn(String(200))
    http_path: Mapped[str | None] = NullableColumn(String(200))
    http_methods: Mapped[list] = Column(json_type(), default=list, server_default="[]")
    http_auth: Mapped[str] = Column(String(10), default="none", server_default="none")
    # A Fernet token (JSR_SECRETS_KEY), never the plaintext: see set_http_secret().
    http_secret: Mapped[str | None] = NullableColumn(Text)
    event_patterns: Mapped[list] = Column(json_type(), default=list, server_default="[]")
    current_version: Mapped[int] = Column(Integer, default=1, server_default=text("1"))
    # The editor's autosaved draft: unsaved work kept across reloads; never a version, cleared by the next one.
    draft_source: Mapped[str | None] = NullableColumn(Text)
    draft_saved_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    author_id: Mapped[str | None] = NullableColumn(String(36), ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()

    def set_http_secret(self, plaintext: str | None, key: str) -> None:
        """Store the hook's token or HMAC secret encrypted, as tenant secrets are."""
        self.http_secret = fernet_for(key).encrypt(plaintext.encode()).decode() if plaintext else None

    def get_http_secret(self, key: str) -> str | None:
        """The plaintext; raises cryptography.fernet.InvalidToken under a wrong key."""
        return fernet_for(key).decrypt(self.http_secret.encode()).decode() if self.http_secret else None

    def __repr__(self) -> str:
        return f"<Script {self.name} v{self.current_version}>"


class ScriptVersion(db.Model):
    """One saved state of a script's source. Rows are written once and never changed."""

    __tablename__ = "script_versions"
    __table_args__ = (
        UniqueConstraint("script_id", "version", name="uq_script_versions_script_id_version"),
        Index("ix_script_versions_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = id_column()
    script_id: Mapped[str] = Column(String(36), ForeignKey("scripts.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = tenant_fk()
    version: Mapped[int] = Column(Integer)
    source: Mapped[str] = Column(Text)
    change_description: Mapped[str] = Column(Text, default="", server_default="")
    # A plain id, not a foreign key: history keeps naming its author after the user is gone.
    author_id: Mapped[str | None] = NullableColumn(String(36))
    created_at: Mapped[datetime] = created_column()

    def __repr__(self) -> str:
        return f"<ScriptVersion {self.script_id} v{self.version}>"


@event.listens_for(ScriptVersion, "before_update")
def _versions_are_immutable(_mapper, _connection, target: ScriptVersion) -> None:
    """Rollback writes a new version; rewriting an old one would falsify the history."""
    session = object_session(target)
    if session is None or session.is_modified(target, include_collections=False):
        raise ImmutableError(f"script versions are immutable (script {target.script_id} v{target.version})")
