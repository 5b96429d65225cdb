"""Tenants, users, API tokens and authentication (with login throttling)."""

import re
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import ApiToken, Tenant, User
from portal.models.tenant import SLUG_RE
from portal.services import audit, rbac
from portal.services.errors import Conflict, NotFound, ValidationError
from portal.services.inputs import text_error
from portal.services.rbac import Actor, Role
from portal.services.scope import in_system, in_tenant

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOCK_MINUTES = 15
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


@in_system
def tenant_by_slug(slug: str) -> Tenant:
    tenant = None
    if isinstance(slug, str) and SLUG_RE.match(slug):
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(_l("Unknown tenant."))
    return tenant


@in_system
def active_user(user_id: str) -> User | None:
    """The session's user (Flask-Login loader); None when deleted or deactivated."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.active else None


def _find_by_email(email: str | None) -> User | None:
    """The user with this e-mail (any case), or None; an unstorable e-mail names nobody."""
    email = email.strip().lower() if isinstance(email, str) else ""
    if not email or text_error(email, 254) is not None:
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


@in_system
def user_by_email(email: str) -> User:
    user = _find_by_email(email)
    if user is None:
        raise NotFound(_l("User not found."))
    return user


@in_system
def create_tenant(actor: Actor, slug: str, name: str) -> Tenant:
    rbac.require(actor, rbac.TENANTS_MANAGE)
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError({"slug": _l("A slug is lowercase letters, digits and dashes.")})
    if db.session.scalar(select(Tenant.id).where(Tenant.slug == slug)):
        raise Conflict(_l("A tenant with this slug already exists."), field="slug")
    tenant = Tenant(slug=slug, name=(name or slug).strip())
    db.session.add(tenant)
    db.session.flush()
    audit.record(actor, "tenant.create", tenant_id=tenant.id, target_type="tenant", target_id=tenant.id,
                 summary=f"created tenant {slug!r}")
    db.session.commit()
    return tenant


@in_tenant
def create_user(actor: Actor, tenant_id: str | None, email: str, password: str, role: str,
                name: str = "") -> User:
    rbac.require(actor, rbac.USERS_MANAGE, tenant_id)
    email = (email or "").strip().lower()
    errors = {}
    if not EMAIL_RE.match(email):
        errors["email"] = _l("Enter a valid e-mail address.")
    if len(password or "") < 8:
        errors["password"] = _l("A password has at least 8 characters.")
    if role not in {r.value for r in Role}:
        errors["role"] = _l("Unknown role.")
    elif (role == Role.SUPERADMIN) != (tenant_id is None):
        errors["role"] = _l("Only superadmins belong to no tenant.")
    if role == Role.SUPERADMIN and actor.role is not Role.SUPERADMIN:
        errors["role"] = _l("Only a superadmin can create a superadmin.")
    if errors:
        raise ValidationError(errors)
    if db.session.scalar(select(User.id).where(func.lower(User.email) == email)):
        raise Conflict(_l("A user with this e-mail already exists."), field="email")
    user = User(tenant_id=tenant_id, email=email, name=name or email.split("@")[0], role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", tenant_id=tenant_id, target_type="user", target_id=user.id,
                 summary=f"created {role} {email}")
    db.session.commit()
    return user


@in_system
def set_role(actor: Actor, user_id: str, role: str) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("User not found."))
    rbac.require(actor, rbac.USERS_MANAGE, user.tenant_id)
    if role not in {r.value for r in Role} or role == Role.SUPERADMIN:
        raise ValidationError({"role": _l("Unknown role.")})
    previous, user.role = user.role, role
    audit.record(actor, "user.role", tenant_id=user.tenant_id, target_type="user", target_id=user.id,
                 summary=f"role: {previous} → {role}", details={"before": previous, "after": role})
    db.session.commit()
    return user


@in_system
def authenticate(email: str, password: str) -> User | None:
    """The user, or None; repeated failures lock the account for a while (login throttling)."""
    user = _find_by_email(email)
    now = datetime.now(UTC)
    if user is None:
        return None
    if user.locked_until and _aware(user.locked_until) > now:
        return None
    if not user.active or not user.check_password(password or ""):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= current_app.config["JSR_LOGIN_ATTEMPTS"]:
            user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        db.session.commit()
        return None
    user.failed_logins, user.locked_until = 0, None
    db.session.commit()
    return user


@in_system
def is_locked(email: str) -> bool:
    user = _find_by_email(email)
    return bool(user and user.locked_until and _aware(user.locked_until) > datetime.now(UTC))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@in_system
def create_token(actor: Actor, user_id: str, name: str, role: str | None = None) -> tuple[str, ApiToken]:
    """A new API token for `user_id`; the secret is returned once and stored only hashed."""
    user = db.session.get(User, user_id)
    if user is None or user.tenant_id is None:
        raise NotFound(_l("User not found."))
    if actor.user_id != user.id:  # anyone may make a token for themselves, never above their role
        rbac.require(actor, rbac.TOKENS_MANAGE, user.tenant_id)
    role = role or user.role
    allowed = [r.value for r in Role if r is not Role.SUPERADMIN]
    if role not in allowed or allowed.index(role) < allowed.index(user.role):
        raise ValidationError({"role": _l("A token cannot have more rights than its user.")})
    secret, token = ApiToken.generate(tenant_id=user.tenant_id, user_id=user.id, name=name or "token", role=role)
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "token.create", tenant_id=user.tenant_id, target_type="api_token", target_id=token.id,
                 summary=f"token {token.prefix}… for {user.email} with role {role}")
    db.session.commit()
    return secret, token


@in_system
def actor_for_token(secret: str) -> Actor | None:
    """The actor an `Authorization: Bearer` secret stands for, or None."""
    digest = ApiToken.hash_secret(secret or "")
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))
    if token is None:
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    now = datetime.now(UTC)
    if token.last_used_at is None or now - _aware(token.last_used_at) > TOKEN_USE_RESOLUTION:
        token.last_used_at = now  # at most one write a minute per token, not one per request
        db.session.commit()
    return Actor(user.id, token.tenant_id, Role(token.role))
