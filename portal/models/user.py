"""The user aggregate: User (Flask-Login) and ApiToken (bearer secrets, stored hashed)."""

import functools
import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, validates

from portal.extensions import db
from portal.models.tenant import (
    Column,
    NullableColumn,
    UTCDateTime,
    created_column,
    id_column,
    one_of,
    tenant_fk,
)

ROLES = ("superadmin", "org_admin", "developer", "viewer")
TOKEN_PREFIX = "jsr_"

# argon2id with the library's recommended parameters; tests swap in a cheap profile.
password_hasher = PasswordHasher()


@functools.cache
def _nobodys_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def spend_password_check(password: str) -> None:
    """Check `password` against a hash nobody has: an unknown e-mail costs what a wrong password costs."""
    try:
        password_hasher.verify(_nobodys_hash(password_hasher), password)
    except (VerificationError, InvalidHashError):
        pass


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        one_of("role", ROLES),
        # Only a superadmin stands outside every tenant.
        CheckConstraint("(role = 'superadmin') = (tenant_id IS NULL)", name="tenant_unless_superadmin"),
        Index("ix_users_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = id_column()
    # NULL only for superadmins; on PostgreSQL such rows are visible in system scope only.
    tenant_id: Mapped[str | None] = NullableColumn(String(36), ForeignKey("tenants.id"))
    organization_id: Mapped[str | None] = NullableColumn(
        String(36), ForeignKey("organizations.id", ondelete="SET NULL"))
    email: Mapped[str] = Column(String(254), unique=True)
    name: Mapped[str] = Column(String(200), default="", server_default="")
    password_hash: Mapped[str] = Column(String(255))
    role: Mapped[str] = Column(String(20))
    active: Mapped[bool] = Column(Boolean, default=True, server_default=text("true"))
    failed_logins: Mapped[int] = Column(Integer, default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    # Part of every session's id: raising it (logout, role change, deactivation) ends all sessions.
    session_version: Mapped[int] = Column(Integer, default=1, server_default=text("1"))
    # The portal's language (en/ru/uz) and time zone for this user; NULL: browser language, UTC.
    language: Mapped[str | None] = NullableColumn(String(5))
    timezone: Mapped[str | None] = NullableColumn(String(64))
    # A one-time sign-in link (an invitation): sha256 of its secret and its expiry; cleared when used.
    signin_token_hash: Mapped[str | None] = NullableColumn(String(64), unique=True)
    signin_token_expires_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    created_at: Mapped[datetime] = created_column()

    @validates("email")
    def _normalise_email(self, _key: str, email: str) -> str:
        """E-mail is unique globally and compared lowercase, so it is stored lowercase."""
        return email.strip().lower() if isinstance(email, str) else email

    def set_password(self, password: str) -> None:
        """Set the password; changing an existing one ends every session of the user."""
        if self.password_hash:
            self.session_version = (self.session_version or 1) + 1
        self.password_hash = password_hasher.hash(password)

    def check_password(self, password: str) -> bool:
        """True when `password` matches; upgrades the stored hash when the parameters changed."""
        try:
            password_hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if password_hasher.check_needs_rehash(self.password_hash):
            self.set_password(password)
        return True

    @property
    def is_active(self) -> bool:  # Flask-Login refuses to log in inactive users
        return bool(self.active)

    def get_id(self) -> str:
        """The session's user id (Flask-Login): the user and the session version it was issued under."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class ApiToken(db.Model):
    __tablename__ = "api_tokens"
    __table_args__ = (
        one_of("role", ROLES),
        Index("ix_api_tokens_tenant_id", "tenant_id"),
        Index("ix_api_tokens_user_id", "user_id"),
    )

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    user_id: Mapped[str] = Column(String(36), ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = Column(String(100))
    # sha256 of the secret: tokens are long random strings, so a fast hash is enough and
    # lets a request find its token with one indexed lookup.
    token_hash: Mapped[str] = Column(String(64), unique=True)
    prefix: Mapped[str] = Column(String(16))
    role: Mapped[str] = Column(String(20))
    created_at: Mapped[datetime] = created_column()
    last_used_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    revoked_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())
    expires_at: Mapped[datetime | None] = NullableColumn(UTCDateTime())  # None: until revoked

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate(cls, *, tenant_id: str, user_id: str, name: str, role: str,
                 expires_at: datetime | None = None) -> tuple[str, "ApiToken"]:
        """A new token: (secret shown once, unsaved model holding only its hash)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls(tenant_id=tenant_id, user_id=user_id, name=name, role=role, expires_at=expires_at,
                    token_hash=cls.hash_secret(secret), prefix=secret[:8])
        return secret, token

    def matches(self, secret: str) -> bool:
        return secrets.compare_digest(self.token_hash, self.hash_secret(secret))

    def __repr__(self) -> str:
        return f"<ApiToken {self.prefix}… {self.role}>"
