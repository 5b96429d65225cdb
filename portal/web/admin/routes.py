"""Org admins run their tenant here. Every action goes through a service, which checks the permission
again and writes the audit trail; a refused form comes back with its errors beside the fields (422/409).

Secrets of the moment (a new token, a one-time sign-in link) are rendered into the answer of the POST
that made them and nowhere else: never flashed (the session cookie is signed, not encrypted) and never
stored readable, so a reload cannot show them again.
"""

from datetime import UTC, datetime
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from portal.services import accounts, rbac, secrets, tenants
from portal.services.errors import Conflict, ValidationError
from portal.services.rbac import Role
from portal.web.pages import FORM_BOOLEANS, acting, field_errors, page, render

bp = Blueprint("admin", __name__, url_prefix="/admin")
MEMBER_ROLES = [role.value for role in Role if role is not Role.SUPERADMIN]
MAX_ROWS = 500  # users and tokens listed on one page (the most a service lists at once)


@bp.get("")
@page(rbac.USERS_MANAGE)
def index():
    return redirect(url_for("admin.users"))


# -- users ------------------------------------------------------------------------------------
def _users_page(status: int = 200, **context):
    who = acting()
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return render("admin/users.html", users=accounts.list_users(who.actor, who.tenant_id, limit=MAX_ROWS),
                  roles=MEMBER_ROLES, now=datetime.now(UTC), **context), status


@bp.get("/users")
@page(rbac.USERS_MANAGE)
def users():
    return _users_page()


@bp.post("/users")
@page(rbac.USERS_MANAGE)
def invite():
    """Invite a member with an initial password, or with a one-time sign-in link shown once."""
    who, form = acting(), request.form
    password = form.get("password", "") if form.get("mode") == "password" else None
    try:
        user, link = accounts.invite(who.actor, who.tenant_id, form.get("email", ""), form.get("role", ""),
                                     form.get("name", ""), password=password)
    except (ValidationError, Conflict) as exc:
        return _users_page(exc.status, form=form, errors=field_errors(exc))
    if password is not None:
        flash(_l("%(email)s can now sign in with the password you set.", email=user.email), "info")
        return redirect(url_for("admin.users"))
    return _users_page(new_link=(user, url_for("auth.signin_link", secret=link, _external=True)))


@bp.post("/users/<user_id>")
@page(rbac.USERS_MANAGE)
def update_user(user_id: str):
    """Change a member's role, deactivate or reactivate, or unlock, by the form's fields."""
    who, form = acting(), request.form
    data: dict = {}
    if "role" in form:
        data["role"] = form["role"]
    if "active" in form:
        data["active"] = FORM_BOOLEANS.get(form["active"], form["active"])  # anything else: refused by name
    if "unlock" in form:
        data["unlock"] = True
    try:
        user = accounts.update_user(who.actor, who.tenant_id, user_id, data)
    except (ValidationError, Conflict) as exc:
        return _users_page(exc.status, errors={f"user-{user_id}": " ".join(field_errors(exc).values())})
    flash(_l("%(email)s was updated.", email=user.email), "info")
    return redirect(url_for("admin.users"))


@bp.post("/users/<user_id>/link")
@page(rbac.USERS_MANAGE)
def new_link(user_id: str):
    """A fresh one-time sign-in link for a member (an earlier one stops working)."""
    who = acting()
    user, link = accounts.issue_signin_link(who.actor, who.tenant_id, user_id)
    return _users_page(new_link=(user, url_for("auth.signin_link", secret=link, _external=True)))


# -- API tokens -------------------------------------------------------------------------------
def _tokens_page(status: int = 200, **context):
    who = acting()
    members = accounts.list_users(who.actor, who.tenant_id, limit=MAX_ROWS)
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return render("admin/tokens.html", tokens=accounts.list_tokens(who.actor, who.tenant_id, limit=MAX_ROWS),
                  members=members, emails={u.id: u.email for u in members}, roles=MEMBER_ROLES,
                  now=datetime.now(UTC), **context), status


@bp.get("/tokens")
@page(rbac.TOKENS_MANAGE)
def tokens():
    return _tokens_page()


@bp.post("/tokens")
@page(rbac.TOKENS_MANAGE)
def create_token():
    """A new token; its secret is in this answer only."""
    who, form = acting(), request.form
    days = form.get("expires_in_days", "").strip()
    try:
        secret, token = accounts.create_token(who.actor, form.get("user_id", ""), form.get("name", ""),
                                              form.get("role") or None, _whole(days) if days else None,
                                              tenant_id=who.tenant_id)
    except (ValidationError, Conflict) as exc:
        return _tokens_page(exc.status, form=form, errors=field_errors(exc))
    return _tokens_page(new_secret=(token, secret))


@bp.post("/tokens/<token_id>/revoke")
@page(rbac.TOKENS_MANAGE)
def revoke_token(token_id: str):
    who = acting()
    token = accounts.revoke_token(who.actor, who.tenant_id, token_id)
    flash(_l("Token %(prefix)s… is revoked.", prefix=token.prefix), "info")
    return redirect(url_for("admin.tokens"))


# -- secrets ----------------------------------------------------------------------------------
def _secrets_page(status: int = 200, **context):
    who = acting()
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return render("admin/secrets.html", secrets=secrets.names(who.actor, who.tenant_id),
                  readers=secrets.readers(who.actor, who.tenant_id), **context), status


@bp.get("/secrets")
@page(rbac.SECRETS_MANAGE)
def secrets_list():
    return _secrets_page()


@bp.post("/secrets")
@page(rbac.SECRETS_MANAGE)
def put_secret():
    """Create a secret or replace its value; the value is never shown again (nor echoed on an error)."""
    who, form = acting(), request.form
    try:
        secret = secrets.put(who.actor, who.tenant_id, form.get("name", ""), form.get("value", ""))
    except (ValidationError, Conflict) as exc:
        return _secrets_page(exc.status, form={"name": form.get("name", "")}, errors=field_errors(exc))
    flash(_l("Secret %(name)s is saved. Its value will not be shown again.", name=secret.name), "info")
    return redirect(url_for("admin.secrets_list"))


@bp.post("/secrets/<name>/delete")
@page(rbac.SECRETS_MANAGE)
def delete_secret(name: str):
    who = acting()
    secrets.delete(who.actor, who.tenant_id, name)
    flash(_l("Secret %(name)s was deleted.", name=name), "info")
    return redirect(url_for("admin.secrets_list"))


# -- tenant settings --------------------------------------------------------------------------
def _settings_page(status: int = 200, **context):
    who = acting()
    tenant = tenants.settings(who.actor, who.tenant_id)
    context.setdefault("values", tenants.snapshot(tenant))
    context.setdefault("errors", {})
    return render("admin/settings.html", tenant=tenant, maxima=tenants.maxima(), optional=tenants.OPTIONAL_LIMITS,
                  zones=sorted(available_timezones()), languages=accounts.LANGUAGES, **context), status


@bp.get("/settings")
@page(rbac.SETTINGS_MANAGE)
def settings():
    return _settings_page()


@bp.post("/settings")
@page(rbac.SETTINGS_MANAGE)
def save_settings():
    who, form = acting(), request.form
    values = {field: _whole(form.get(field, "")) for field in tenants.LIMITS}
    values.update({field: None for field in tenants.OPTIONAL_LIMITS if not form.get(field, "").strip()})
    values["timezone"] = form.get("timezone", "")
    values["language"] = form.get("language") or None
    try:
        tenants.update_settings(who.actor, who.tenant_id, values)
    except ValidationError as exc:
        return _settings_page(exc.status, values={**values, **form.to_dict()}, errors=exc.errors)
    flash(_l("Settings saved."), "info")
    return redirect(url_for("admin.settings"))


def _whole(text: str) -> int | str:
    """A form's whole number as an int; anything else as it came, for the service to refuse by name."""
    try:
        return int(text.strip())
    except ValueError:
        return text
