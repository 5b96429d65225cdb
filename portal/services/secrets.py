"""Tenant secrets: set, list (names only) and delete by org admins, audited; read by runs.

Values are Fernet tokens at rest (portal/models/secret.py) and never appear in audit
events, listings or logs: `redact` replaces every value of the tenant's secrets in the
text a run stored (console output, error message and stack).
"""

import re
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import Script, Secret
from portal.services import audit, rbac
from portal.services.errors import NotFound, ValidationError, refused_writes
from portal.services.inputs import text_error
from portal.services.rbac import Actor
from portal.services.scope import in_tenant
from runtime.references import secret_names

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
MAX_VALUE_CHARS = 16 * 1024
REDACTED = "[secret]"
MIN_REDACTED_CHARS = 4  # shorter values would mangle ordinary text without protecting anything


def _name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValidationError({"name": _l("A secret name is 1 to 100 letters, digits, _, . or -, "
                                          "not starting with a digit, . or -.")})
    return name


def _key() -> str:
    return current_app.config["JSR_SECRETS_KEY"]


@in_tenant
def put(actor: Actor, tenant_id: str, name: Any, value: Any) -> Secret:
    """Create or replace a secret (org admins)."""
    rbac.require(actor, rbac.SECRETS_MANAGE, tenant_id)
    name = _name(name)
    if (message := text_error(value, MAX_VALUE_CHARS)) is not None:
        raise ValidationError({"value": message})
    secret = db.session.scalar(select(Secret).where(Secret.tenant_id == tenant_id, Secret.name == name))
    action = "secret.update" if secret is not None else "secret.create"
    if secret is None:
        secret = Secret(tenant_id=tenant_id, name=name)
        db.session.add(secret)
    secret.set_value(value, _key())
    with refused_writes(_l("The secret changed meanwhile; try again."), fields=("name",)):
        db.session.flush()
        audit.record(actor, action, tenant_id=tenant_id, target_type="secret", target_id=secret.id,
                     summary=f"secret {name}")  # the name only, never the value
        db.session.commit()
    return secret


@in_tenant
def names(actor: Actor, tenant_id: str) -> list[Secret]:
    """The tenant's secrets by name (their values are never listed)."""
    rbac.require(actor, rbac.SECRETS_MANAGE, tenant_id)
    return list(db.session.scalars(select(Secret).where(Secret.tenant_id == tenant_id).order_by(Secret.name)))


@in_tenant
def readers(actor: Actor, tenant_id: str) -> dict[str, list[Script]]:
    """For each secret name, the scripts whose current source reads it by a literal name
    (`ctx.secrets.get('NAME')`, `getCredential('NAME')`, found by parsing, runtime/references.py)."""
    rbac.require(actor, rbac.SECRETS_MANAGE, tenant_id)
    found: dict[str, list[Script]] = {}
    for script in db.session.scalars(select(Script).where(Script.tenant_id == tenant_id).order_by(Script.name)):
        for name in secret_names(script.source):
            found.setdefault(name, []).append(script)
    return found


@in_tenant
def delete(actor: Actor, tenant_id: str, name: Any) -> None:
    rbac.require(actor, rbac.SECRETS_MANAGE, tenant_id)
    secret = db.session.scalar(select(Secret).where(Secret.tenant_id == tenant_id, Secret.name == _name(name)))
    if secret is None:
        raise NotFound(_l("Secret not found."))
    audit.record(actor, "secret.delete", tenant_id=tenant_id, target_type="secret", target_id=secret.id,
                 summary=f"secret {secret.name}")
    db.session.delete(secret)
    db.session.commit()


@in_tenant
def value(tenant_id: str, name: Any) -> str | None:
    """The plaintext of one secret for a run of the tenant (`ctx.secrets.get`), None when there is none."""
    secret = db.session.scalar(select(Secret).where(Secret.tenant_id == tenant_id, Secret.name == _name(name)))
    return None if secret is None else secret.get_value(_key())


@in_tenant
def credentials(tenant_id: str) -> dict[str, str]:
    """Every secret of the tenant by name, decrypted: what getCredential reads in a transformation
    whose request carries no credentials of its own."""
    key = _key()
    return {secret.name: secret.get_value(key)
            for secret in db.session.scalars(select(Secret).where(Secret.tenant_id == tenant_id))}


def redactor(tenant_id: str):
    """A function that hides every value of the tenant's secrets in a text; None when there is nothing to hide."""
    values = sorted((v for v in set(credentials(tenant_id).values()) if len(v) >= MIN_REDACTED_CHARS),
                    key=len, reverse=True)
    if not values:
        return None
    pattern = re.compile("|".join(map(re.escape, values)))
    return lambda text: pattern.sub(REDACTED, text)
