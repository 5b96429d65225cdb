"""Superadmins: every tenant with its usage today, create one, deactivate or reactivate one. Acting as a
tenant goes through auth.choose_tenant, which audits it."""

from datetime import datetime

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _l

from portal.services import accounts, rbac, tenants
from portal.services.errors import Conflict, ValidationError
from portal.web.pages import FORM_BOOLEANS, acting, field_errors, platform_page, render

bp = Blueprint("tenants", __name__, url_prefix="/tenants")


def _page(status: int = 200, **context):
    """The list; "today" starts at midnight in the viewer's time zone."""
    today = datetime.now(get_timezone()).replace(hour=0, minute=0, second=0, microsecond=0)
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return render("tenants/list.html", rows=tenants.usage(acting().actor, today), **context), status


@bp.get("")
@platform_page(rbac.TENANTS_MANAGE)
def index():
    return _page()


@bp.post("")
@platform_page(rbac.TENANTS_MANAGE)
def create():
    form = request.form
    try:
        tenant = accounts.create_tenant(acting().actor, form.get("slug", ""), form.get("name", ""))
    except (ValidationError, Conflict) as exc:
        return _page(exc.status, form=form, errors=field_errors(exc))
    flash(_l("Tenant %(name)s was created.", name=tenant.name), "info")
    return redirect(url_for("tenants.index"))


@bp.post("/<tenant_id>/active")
@platform_page(rbac.TENANTS_MANAGE)
def set_active(tenant_id: str):
    active = request.form.get("active", "")
    tenant = tenants.set_active(acting().actor, tenant_id, FORM_BOOLEANS.get(active, active))
    if tenant.active:
        flash(_l("Tenant %(name)s is active again.", name=tenant.name), "info")
    else:
        flash(_l("Tenant %(name)s is deactivated: its members are signed out and its tokens stop working.",
                 name=tenant.name), "info")
    return redirect(url_for("tenants.index"))
