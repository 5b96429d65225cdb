"""Tenants, users, API tokens and authentication (with login throttling)."""

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ORMExecuteState, Session, object_session

from portal.extensions import db
from portal.models import ROLES, ApiToken, Tenant, User
from portal.models.tenant import SLUG_RE
from portal.models.user import spend_password_check
from portal.services import audit, outbox, rbac
from portal.services.errors import Conflict, NotFound, ValidationError
from portal.services.inputs import is_id, text_error, timezone_error
from portal.services.queries import page, tenant_row
from portal.services.rbac import Actor, Role
from portal.services.scope import in_system, in_tenant

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOCK_MINUTES = 15
TOKEN_USE_RESOLUTION = timedelta(minutes=1)
TOKEN_CACHE_KEY = "jsr.tokens"  # app.extensions: token digest -> (monotonic expiry, Actor)
TOKEN_CACHE_SIZE = 10_000  # verified tokens kept per process; the cache starts afresh beyond
ACCESS_CHANGED = "jsr_access_changed"  # session.info flag: a token, user or tenant was changed
MAX_TOKEN_DAYS = 3650
LANGUAGES = ("en", "ru", "uz")


@in_system
def tenant_by_slug(slug: str) -> Tenant:
    tenant = None
    if isinstance(slug, str) and SLUG_RE.match(slug):
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(_l("Unknown tenant."))
    return tenant


@in_system
def session_user(session_id: str) -> User | None:
    """The user a session stands for (Flask-Login loader, detached from the session), or None when the
    session was withdrawn: the user is gone or deactivated, its tenant is deactivated, or its session
    version has moved on (logout, role change, deactivation)."""
    user_id, _, version = session_id.partition(":") if isinstance(session_id, str) else ("", "", "")
    if not is_id(user_id) or not version.isdigit():
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != int(version) or not _tenant_active(user):
        return None
    # Detached: a rollback later in the request (an error handler's) must not expire the signed-in user,
    # whose row could not be read again outside system scope under row-level security.
    db.session.expunge(user)
    return user


def _tenant_active(user: User) -> bool:
    """Superadmins belong to no tenant; everyone else only counts while their tenant is active."""
    if user.tenant_id is None:
        return True
    tenant = db.session.get(Tenant, user.tenant_id, populate_existing=True)
    return tenant is not None and tenant.active


@in_system
def acting_tenant(actor: Actor, slug: str | None = None) -> Tenant | None:
    """The tenant the portal acts for: a member's own; for a superadmin the one named by `slug`
    (None until one is chosen). An unknown slug, or a member naming another tenant, is NotFound.
    Detached from the session, as the signed-in user is (see session_user)."""
    if actor.role is not Role.SUPERADMIN:
        tenant = db.session.get(Tenant, actor.tenant_id) if actor.tenant_id else None
        if tenant is None or (slug and tenant.slug != slug):
            raise NotFound(_l("Unknown tenant."))
    else:
        tenant = tenant_by_slug(slug) if slug else None
    if tenant is not None:
        db.session.expunge(tenant)
    return tenant


@in_tenant
def user_names(actor: Actor, tenant_id: str, user_ids: list[str | None]) -> dict[str, str]:
    """Display names of the tenant's users among `user_ids` (authors of versions, starters of runs)."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    ids = [user_id for user_id in user_ids if user_id]
    if not ids:
        return {}
    query = select(User.id, User.name, User.email).where(User.tenant_id == tenant_id, User.id.in_(ids))
    return {user_id: name or email for user_id, name, email in db.session.execute(query)}


@in_system
def list_tenants(actor: Actor) -> list[Tenant]:
    """Every tenant, by name: the tenants a superadmin may act for in the portal."""
    rbac.require(actor, rbac.TENANTS_MANAGE)
    return list(db.session.scalars(select(Tenant).order_by(Tenant.name, Tenant.slug)))


@in_system
def set_preferences(actor: Actor, *, language: str | None = None, timezone: str | None = None) -> User:
    """Store the acting user's own language and/or time zone (None leaves one as it is)."""
    user = db.session.get(User, actor.user_id) if is_id(actor.user_id) else None
    if user is None:
        raise NotFound(_l("User not found."))
    errors = {}
    if language is not None and language not in LANGUAGES:
        errors["language"] = _l("Choose one of: %(choices)s.", choices=", ".join(LANGUAGES))
    if timezone is not None and (message := timezone_error(timezone)) is not None:
        errors["timezone"] = message
    if errors:
        raise ValidationError(errors)
    user.language = language or user.language
    user.timezone = timezone or user.timezone
    db.session.commit()
    return user


@in_system
def end_sessions(user_id: str) -> None:
    """Withdraw every session of a user (logout ends them all, not only the browser's)."""
    db.session.execute(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))
    db.session.commit()


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


def password_error(password: Any) -> Any | None:
    """The password policy: 8 to 1024 storable characters. The message when `password` breaks it, else None."""
    if not isinstance(password, str) or not 8 <= len(password) <= 1024 or text_error(password, 1024) is not None:
        return _l("A password has 8 to 1024 characters.")
    return None


@in_tenant
def create_user(actor: Actor, tenant_id: str | None, email: str, password: str, role: str,
                name: str = "") -> User:
    rbac.require(actor, rbac.USERS_MANAGE, tenant_id)
    email = email.strip().lower() if isinstance(email, str) else ""
    errors = {}
    if not EMAIL_RE.match(email) or text_error(email, 254) is not None:
        errors["email"] = _l("Enter a valid e-mail address.")
    if (message := password_error(password)) is not None:
        errors["password"] = message
    if (message := text_error(name, 200)) is not None:
        errors["name"] = message
    if role not in ROLES:
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
    if tenant_id is not None:
        outbox.publish(tenant_id, "user.created", {"userId": user.id, "email": user.email, "role": role})
    db.session.commit()
    return user


@in_tenant
def list_users(actor: Actor, tenant_id: str, *, limit: int = 100, offset: int = 0) -> list[User]:
    rbac.require(actor, rbac.USERS_MANAGE, tenant_id)
    query = select(User).where(User.tenant_id == tenant_id).order_by(User.email)
    return list(db.session.scalars(page(query, limit, offset)))


@in_tenant
def update_user(actor: Actor, tenant_id: str, user_id: str, data: dict[str, Any]) -> User:
    """Change a member's role or `active` flag, or unlock it (`unlock: true`). A role change or a
    deactivation ends the user's sessions; its tokens follow at once (they never exceed the user)."""
    rbac.require(actor, rbac.USERS_MANAGE, tenant_id)
    user = db.session.get(User, user_id) if is_id(user_id) else None
    if user is None or user.tenant_id != tenant_id:
        raise NotFound(_l("User not found."))
    role, active, unlock = data.get("role", user.role), data.get("active", user.active), data.get("unlock", False)
    errors = {}
    if role not in ROLES or role == Role.SUPERADMIN:
        errors["role"] = _l("Unknown role.")
    for field, value in (("active", active), ("unlock", unlock)):
        if not isinstance(value, bool):
            errors[field] = _l("Must be true or false.")
    if errors:
        raise ValidationError(errors)
    if user.id == actor.user_id and (role != user.role or not active):
        raise Conflict(_l("You cannot change your own role or deactivate yourself."), field="role")
    summary, changes = audit.diff_summary({"role": user.role, "active": user.active},
                                          {"role": role, "active": active})
    if changes:
        user.role, user.active = role, active
        user.session_version += 1
    if unlock:
        user.failed_logins, user.locked_until = 0, None
        summary = "; ".join(part for part in (summary, "unlocked") if part)
    if changes or unlock:
        audit.record(actor, "user.update", tenant_id=tenant_id, target_type="user", target_id=user.id,
                     summary=summary, details={"changes": changes, "unlocked": bool(unlock)})
        db.session.commit()
    return user


# -- one-time sign-in links (invitations) ----------------------------------------------------
def invite(actor: Actor, tenant_id: str, email: str, role: str, name: str = "",
           password: str | None = None) -> tuple[User, str | None]:
    """A new member with the initial password given, or, without one, with a random password nobody knows
    and a one-time sign-in link (its secret returned once) through which the person chooses their own."""
    if password is not None:
        return create_user(actor, tenant_id, email, password, role, name), None
    return issue_signin_link(actor, tenant_id, create_user(actor, tenant_id, email, secrets.token_urlsafe(32),
                                                           role, name).id)


def _link_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@in_tenant
def issue_signin_link(actor: Actor, tenant_id: str, user_id: str) -> tuple[User, str]:
    """The member and a new one-time sign-in link secret for them (it replaces any earlier one): used once,
    it sets the member's password; it expires after JSR_SIGNIN_LINK_HOURS. Stored only as its sha256."""
    rbac.require(actor, rbac.USERS_MANAGE, tenant_id)
    user = db.session.get(User, user_id) if is_id(user_id) else None
    if user is None or user.tenant_id != tenant_id:
        raise NotFound(_l("User not found."))
    secret = secrets.token_urlsafe(32)
    expires_at = datetime.now(UTC) + timedelta(hours=current_app.config["JSR_SIGNIN_LINK_HOURS"])
    user.signin_token_hash, user.signin_token_expires_at = _link_hash(secret), expires_at
    audit.record(actor, "user.signin_link", tenant_id=tenant_id, target_type="user", target_id=user.id,
                 summary=f"one-time sign-in link for {user.email}", details={"expires_at": expires_at.isoformat()})
    db.session.commit()
    return user, secret


def _link_user(secret: Any) -> User:
    user = None
    if isinstance(secret, str) and 0 < len(secret) <= 100:
        user = db.session.scalar(select(User).where(User.signin_token_hash == _link_hash(secret)))
    if (user is None or not user.active or not _tenant_active(user)
            or user.signin_token_expires_at is None or _aware(user.signin_token_expires_at) <= datetime.now(UTC)):
        raise NotFound(_l("This sign-in link is not valid: it was used already, it expired, or it never existed. "
                          "Ask your administrator for a new one."))
    return user


@in_system
def signin_link_user(secret: str) -> User:
    """The member a one-time link is for, while it is unused and unexpired (NotFound otherwise)."""
    user = _link_user(secret)
    db.session.expunge(user)
    return user


@in_system
def redeem_signin_link(secret: str, password: str) -> User:
    """Use a one-time link: set the member's password, clear the link and any lock. The link's row is
    claimed by one UPDATE on its hash, so two uses racing each other cannot both succeed."""
    user = _link_user(secret)
    if (message := password_error(password)) is not None:
        raise ValidationError({"password": message})
    claimed = db.session.execute(update(User).where(User.id == user.id, User.signin_token_hash == _link_hash(secret))
                                 .values(signin_token_hash=None, signin_token_expires_at=None)).rowcount
    if claimed != 1:
        raise NotFound(_l("This sign-in link is not valid: it was used already, it expired, or it never existed. "
                          "Ask your administrator for a new one."))
    user.set_password(password)
    user.failed_logins, user.locked_until = 0, None
    audit.record(Actor.of(user), "auth.signin_link_used", tenant_id=user.tenant_id, target_type="user",
                 target_id=user.id, summary="chose a password through a one-time sign-in link")
    db.session.commit()
    return _detached(user)


def _detached(user: User) -> User:
    """`user` loaded afresh and detached, to be signed in outside system scope (see session_user)."""
    db.session.refresh(user)
    db.session.expunge(user)
    return user


@in_system
def change_password(actor: Actor, current: str, new: str) -> User:
    """The acting user's own password, given the current one; ends every other session (set_password)."""
    user = db.session.get(User, actor.user_id) if is_id(actor.user_id) else None
    if user is None:
        raise NotFound(_l("User not found."))
    if not user.check_password(current if isinstance(current, str) else ""):
        raise ValidationError({"current_password": _l("The current password is wrong.")})
    if (message := password_error(new)) is not None:
        raise ValidationError({"new_password": message})
    user.set_password(new)
    audit.record(actor, "user.password", tenant_id=user.tenant_id, target_type="user", target_id=user.id,
                 summary="changed own password")
    db.session.commit()
    return _detached(user)


@in_system
def authenticate(email: str, password: str, *, ip: str | None = None) -> User | None:
    """The user, or None. Unknown, wrong, inactive and locked accounts get the same None after the same
    work (a password check against a hash nobody has when the e-mail is unknown).

    Failures are counted by one atomic UPDATE, so parallel guesses cannot slip past the limit; from
    JSR_LOGIN_ATTEMPTS failures on, each failure locks the account for LOCK_MINUTES, and only a
    successful sign-in clears the count. Sign-ins, failures and lockouts go to the audit trail.
    """
    user = _find_by_email(email)
    password = password if isinstance(password, str) else ""
    details = {"ip": ip}
    if user is None:
        spend_password_check(password)
        audit.record(Actor.system(), "auth.failed", tenant_id=None, target_type="user", target_id=None,
                     summary="sign-in with an unknown e-mail", details=details)
        db.session.commit()
        return None
    now = datetime.now(UTC)
    locked = user.locked_until is not None and _aware(user.locked_until) > now
    correct = user.check_password(password)
    actor = Actor(user.id, user.tenant_id, Role(user.role))
    if correct and not locked and user.active and _tenant_active(user):
        user.failed_logins, user.locked_until = 0, None
        audit.record(actor, "auth.login", tenant_id=user.tenant_id, target_type="user", target_id=user.id,
                     summary="signed in", details=details)
        db.session.commit()
        return user
    failures = db.session.execute(update(User).where(User.id == user.id)
                                  .values(failed_logins=User.failed_logins + 1)
                                  .returning(User.failed_logins)).scalar_one()
    reason = "locked" if locked else "wrong password" if not correct else "account or tenant inactive"
    audit.record(actor, "auth.failed", tenant_id=user.tenant_id, target_type="user", target_id=user.id,
                 summary=f"sign-in refused: {reason}", details={**details, "failures": failures})
    if failures >= current_app.config["JSR_LOGIN_ATTEMPTS"]:
        until = now + timedelta(minutes=LOCK_MINUTES)
        db.session.execute(update(User).where(User.id == user.id).values(locked_until=until))
        audit.record(actor, "auth.locked", tenant_id=user.tenant_id, target_type="user", target_id=user.id,
                     summary=f"locked for {LOCK_MINUTES} minutes after {failures} failed sign-ins", details=details)
    db.session.commit()
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- API tokens ----------------------------------------------------------------------------
@in_system
def create_token(actor: Actor, user_id: str, name: str, role: str | None = None,
                 expires_in_days: int | None = None, *, tenant_id: str | None = None) -> tuple[str, ApiToken]:
    """A new API token for `user_id` (a member of `tenant_id` when given); the secret is returned once
    and stored only hashed."""
    user = db.session.get(User, user_id) if is_id(user_id) else None
    if user is None or user.tenant_id is None or tenant_id not in (None, user.tenant_id):
        raise NotFound(_l("User not found."))
    if actor.user_id != user.id:  # anyone may make a token for themselves, never above their role
        rbac.require(actor, rbac.TOKENS_MANAGE, user.tenant_id)
    name = name or "token"
    role = role or user.role
    allowed = [r.value for r in Role if r is not Role.SUPERADMIN]
    errors = {}
    if role not in allowed or allowed.index(role) < allowed.index(user.role):
        errors["role"] = _l("A token cannot have more rights than its user.")
    if (message := text_error(name, 100)) is not None:
        errors["name"] = message
    if expires_in_days is not None and (isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int)
                                        or not 1 <= expires_in_days <= MAX_TOKEN_DAYS):
        errors["expires_in_days"] = _l("Must be a whole number from %(minimum)s to %(maximum)s.",
                                       minimum=1, maximum=MAX_TOKEN_DAYS)
    if errors:
        raise ValidationError(errors)
    expires_at = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    secret, token = ApiToken.generate(tenant_id=user.tenant_id, user_id=user.id, name=name, role=role,
                                      expires_at=expires_at)
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "token.create", tenant_id=user.tenant_id, target_type="api_token", target_id=token.id,
                 summary=f"token {token.prefix}… for {user.email} with role {role}",
                 details={"expires_at": expires_at.isoformat() if expires_at else None})
    db.session.commit()
    return secret, token


@in_tenant
def list_tokens(actor: Actor, tenant_id: str, *, limit: int = 100, offset: int = 0) -> list[ApiToken]:
    """The tenant's tokens, newest first, revoked and expired ones included (never their secrets)."""
    rbac.require(actor, rbac.TOKENS_MANAGE, tenant_id)
    query = select(ApiToken).where(ApiToken.tenant_id == tenant_id).order_by(ApiToken.created_at.desc(),
                                                                                ApiToken.id)
    return list(db.session.scalars(page(query, limit, offset)))


@in_tenant
def revoke_token(actor: Actor, tenant_id: str, token_id: str) -> ApiToken:
    """Revoke a token at once (idempotent); its next request is refused."""
    rbac.require(actor, rbac.TOKENS_MANAGE, tenant_id)
    token = tenant_row(ApiToken, tenant_id, token_id, _l("Token not found."))
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        audit.record(actor, "token.revoke", tenant_id=tenant_id, target_type="api_token", target_id=token.id,
                     summary=f"revoked token {token.prefix}…")
        db.session.commit()
    return token


@in_system
def actor_for_token(secret: str) -> Actor | None:
    """The actor an `Authorization: Bearer` secret stands for, or None when it is unknown, revoked or
    expired, or its user or tenant was deactivated. Its role is the lower of the token's and the
    user's current one, so demoting a user demotes their tokens at once.

    A verified token is kept in this process for JSR_TOKEN_CACHE_S seconds (never past its expiry), so an
    API request costs no database round trip for its token: a revocation, deactivation or demotion made in
    this process applies at once, one made in another process within that bound."""
    digest = ApiToken.hash_secret(secret if isinstance(secret, str) else "")
    cache = current_app.extensions.setdefault(TOKEN_CACHE_KEY, {})
    cached = cache.get(digest)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    actor, expires_at = _verify_token(digest)
    if actor is not None:
        if len(cache) >= TOKEN_CACHE_SIZE:
            cache.clear()
        lifetime = current_app.config["JSR_TOKEN_CACHE_S"]
        if expires_at is not None:
            lifetime = min(lifetime, (_aware(expires_at) - datetime.now(UTC)).total_seconds())
        cache[digest] = (time.monotonic() + lifetime, actor)
    return actor


def _verify_token(digest: str) -> tuple[Actor | None, datetime | None]:
    """(the token's actor or None, the token's expiry), read from the database."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))
    now = datetime.now(UTC)
    if token is None or (token.expires_at is not None and _aware(token.expires_at) <= now):
        return None, None
    user = db.session.get(User, token.user_id, populate_existing=True)  # as stored now, not as loaded before
    if user is None or not user.active or not _tenant_active(user):
        return None, None
    actor = Actor(user.id, token.tenant_id, lower_role(token.role, user.role), token_id=token.id)
    expires_at = token.expires_at
    if token.last_used_at is None or now - _aware(token.last_used_at) > TOKEN_USE_RESOLUTION:
        token.last_used_at = now  # at most one write a minute per token, not one per request
        db.session.commit()
    return actor, expires_at


def _access_changed(_mapper, _connection, target) -> None:
    changed = {attribute.key for attribute in sa_inspect(target).attrs if attribute.history.has_changes()}
    session = object_session(target)
    if session is not None and changed != {"last_used_at"}:  # a token's use is no change of access
        session.info[ACCESS_CHANGED] = True


def _access_statement(state: ORMExecuteState) -> None:
    """The same for UPDATE and DELETE statements run through the session."""
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in (ApiToken, User, Tenant):
        state.session.info[ACCESS_CHANGED] = True


def _forget_tokens(session: Session) -> None:
    """A token, user or tenant committed in this process: its cached tokens are verified again."""
    if session.info.pop(ACCESS_CHANGED, False) and has_app_context():
        current_app.extensions.get(TOKEN_CACHE_KEY, {}).clear()


for _model in (ApiToken, User, Tenant):
    for _name in ("after_update", "after_delete"):
        sa_event.listen(_model, _name, _access_changed)
sa_event.listen(Session, "do_orm_execute", _access_statement)
sa_event.listen(Session, "after_commit", _forget_tokens)


def lower_role(first: str, second: str) -> Role:
    """Of two roles, the one with fewer rights (Role lists them from most to fewest)."""
    order = list(Role)
    return max(Role(first), Role(second), key=order.index)
