from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from portal.services import accounts, dashboard, executions, rbac, scripts
from portal.web.dashboard.charts import charts
from portal.web.pages import acting, render

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    """The start page: the tenant's health over a range (?range=1h|24h|7d|30d), or for a superadmin who has
    not chosen a tenant yet the choice of tenant. An htmx range switch gets the figures alone."""
    who = acting()
    if who.tenant is None:
        return render_template("dashboard/choose_tenant.html", tenants=accounts.list_tenants(who.actor))
    if not who.can(rbac.SCRIPTS_READ):
        abort(403)
    overview = dashboard.overview(who.actor, who.tenant_id, request.args.get("range", dashboard.DEFAULT_RANGE))
    recent = executions.list_executions(who.actor, who.tenant_id, limit=10)
    names = scripts.names(who.actor, who.tenant_id, list({e.script_id for e in recent}))
    return render("dashboard/index.html", "figures", overview=overview, charts=charts(overview),
                  ranges=dashboard.RANGES, recent=recent, script_names=names)
