"""Tenant secrets, encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256)."""

import base64
import hashlib
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy import LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped

from portal.extensions import db
from portal.models.tenant import Column, created_column, id_column, tenant_fk, updated_column


def fernet_for(key: str) -> Fernet:
    """A Fernet from the configured JSR_SECRETS_KEY, whatever its form (hex, passphrase).

    SHA-256 turns any string into the 32 bytes Fernet needs; the configured key should
    itself be random (the default one is 32 random bytes kept in instance/).
    """
    if not key:
        raise ValueError("JSR_SECRETS_KEY is empty")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


class Secret(db.Model):
    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_secrets_tenant_id_name"),)

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_fk()
    name: Mapped[str] = Column(String(100))
    ciphertext: Mapped[bytes] = Column(LargeBinary)
    created_at: Mapped[datetime] = created_column()
    updated_at: Mapped[datetime] = updated_column()

    def set_value(self, plaintext: str, key: str) -> None:
        self.ciphertext = fernet_for(key).encrypt(plaintext.encode())

    def get_value(self, key: str) -> str:
        """The plaintext; raises cryptography.fernet.InvalidToken under a wrong key."""
        return fernet_for(key).decrypt(self.ciphertext).decode()

    def __repr__(self) -> str:  # never the value
        return f"<Secret {self.name}>"
