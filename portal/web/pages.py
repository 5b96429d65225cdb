"""What every portal page shares: who acts for which tenant, the permission check of a view, and
rendering a page or, for an htmx request, only the block it asked for.

The view-level checks here are the first line; the services check every permission again.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask import Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal.models import Tenant
from portal.services import accounts, rbac
from portal.services.errors import NotFound, ServiceError, ValidationError
from portal.services.queries import MAX_PAGE
from portal.services.rbac import Actor

ACTING_TENANT = "jsr_tenant"  # session key: the slug of the tenant a superadmin acts for
FORM_BOOLEANS = {"true": True, "false": False}  # a form's yes/no field; other values go on for the service to refuse


@dataclass(frozen=True)
class Acting:
    actor: Actor
    tenant: Tenant | None  # None: a superadmin who has not chosen a tenant yet

    @property
    def tenant_id(self) -> str | None:
        return self.tenant.id if self.tenant else None

    def can(self, permission: str) -> bool:
        return self.tenant is not None and self.actor.can(permission, self.tenant.id)


def acting() -> Acting:
    """The signed-in user as an actor, with the tenant the portal shows (once per request)."""
    if "acting" not in g:
        actor = Actor.of(current_user)
        chosen = session.get(ACTING_TENANT) if actor.tenant_id is None else None
        try:
            tenant = accounts.acting_tenant(actor, chosen)
        except NotFound:
            if chosen is None:
                raise
            session.pop(ACTING_TENANT)  # the chosen tenant is gone: choose again
            tenant = None
        g.acting = Acting(actor, tenant)
    return g.acting


def init_app(app: Flask) -> None:
    app.jinja_env.globals["acting"] = acting


def page(permission: str):
    """A signed-in page that needs `permission` in the acting tenant: 403 without it; a superadmin
    who has chosen no tenant yet is sent to choose one."""

    def decorate(view):
        @login_required
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            who = acting()
            if who.tenant is None and who.actor.role is rbac.Role.SUPERADMIN:
                return redirect(url_for("dashboard.index"))
            if not who.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def platform_page(permission: str):
    """A signed-in page of platform-wide work (no acting tenant needed): 403 without `permission`."""

    def decorate(view):
        @login_required
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not acting().actor.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def is_htmx() -> bool:
    """An htmx request for part of a page (boosted navigation wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def render(template_name: str, block: str | None = None, **context) -> str:
    """The whole page, or for an htmx request only `block` of the same template: the page and its
    partial come from one template and never drift apart."""
    if block is None or not is_htmx():
        return render_template(template_name, **context)
    return render_block(template_name, block, **context)


def render_block(template_name: str, block: str, **context) -> str:
    """Only `block` of a page's template, with the context a whole page would get."""
    template = current_app.jinja_env.get_or_select_template(template_name)
    current_app.update_template_context(context)
    return "".join(template.blocks[block](template.new_context(context)))


def int_arg(name: str, default: int = 0, minimum: int = 0) -> int:
    """A whole-number query argument; anything unusable falls back to `default`."""
    try:
        return max(minimum, int(request.args.get(name, default)))
    except ValueError:
        return default


def json_body() -> dict:
    """The JSON object an editor's script sent ({} for anything else: the services then say what is missing)."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def markers(errors: dict) -> list[dict]:
    """A source check's field errors as Monaco markers: [{line, column, message}] (none when the source is fine)."""
    if "source" not in errors:
        return []
    return [{"line": errors.get("source_line") or 1, "column": errors.get("source_column") or 1,
             "message": str(errors["source"])}]


def filter_args(names: tuple[str, ...]) -> dict[str, str | None]:
    """The list filters `names` from the query string; an empty one is None (not given)."""
    return {name: request.args.get(name) or None for name in names}


def newest_first(fetch, most: int) -> list:
    """Up to `most` rows of a list paged by key, newest first, for an export: `fetch(limit, before)` reads
    one page of the rows older than the row `before` (None: from the newest)."""
    rows = []
    while len(rows) < most and (batch := fetch(MAX_PAGE, rows[-1].id if rows else None)):
        rows.extend(batch)
    return rows[:most]


def day_arg(name: str, end: bool = False, values=None) -> datetime | None:
    """A date filter (YYYY-MM-DD, a UTC day) of the query string (or `values`) as the start of that day,
    or of the next one for `end`."""
    value = (request.args if values is None else values).get(name)
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value).date()
    except ValueError:
        raise ValidationError({name: _l("Use a date such as 2026-11-27.")}) from None
    return datetime.combine(day + timedelta(days=1) if end else day, time.min, UTC)


def navigate(url: str):
    """A redirect that htmx follows as a whole-page navigation (HX-Redirect), a plain one otherwise."""
    if request.headers.get("HX-Request") == "true":
        return current_app.make_response(("", 204, {"HX-Redirect": url}))
    return redirect(url)


def field_errors(exc: ServiceError) -> dict[str, str]:
    """A service's refusal as messages by form field, for a form page to show beside its fields
    (an error without a field goes under "form")."""
    if isinstance(exc, ValidationError):
        return exc.errors
    return {exc.field or "form": str(exc.message)}
