from flask import Blueprint, render_template
from flask_login import login_required

from portal.services import accounts, executions, rbac, scripts
from portal.web.pages import acting

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    """The start page: recent runs of the acting tenant, or for a superadmin the choice of tenant."""
    who = acting()
    if who.tenant is None:
        return render_template("dashboard/choose_tenant.html", tenants=accounts.list_tenants(who.actor))
    recent, names = [], {}
    if who.can(rbac.SCRIPTS_READ):
        recent = executions.list_executions(who.actor, who.tenant_id, limit=10)
        names = scripts.names(who.actor, who.tenant_id, list({e.script_id for e in recent}))
    return render_template("dashboard/index.html", recent=recent, script_names=names)
