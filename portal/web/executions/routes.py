"""Execution history (filters, live status by htmx polling) and the detail page."""

from datetime import UTC, datetime

from flask import Blueprint, Response, request, url_for

from portal.models import EXECUTION_STATUSES, TRIGGERS
from portal.services import accounts, executions, rbac, scripts
from portal.services.queries import MAX_PAGE
from portal.web.executions import exports
from portal.web.pages import acting, day_arg, filter_args, navigate, newest_first, page, render

bp = Blueprint("executions", __name__, url_prefix="/executions")
PAGE_SIZE = 50
EXPORT_ROWS = 10_000
LIVE = ("pending", "running")
FILTERS = ("script_id", "status", "trigger", "since", "until", "q")


def _filtered(limit: int, before: str | None) -> list:
    """One page of the executions the query string's filters select, older than `before` when given."""
    who = acting()
    args = filter_args(FILTERS)
    return executions.list_executions(who.actor, who.tenant_id, script_id=args["script_id"], status=args["status"],
                                      trigger=args["trigger"], since=day_arg("since"), until=day_arg("until", end=True),
                                      search=args["q"], before=before, limit=limit)


@bp.get("")
@page(rbac.SCRIPTS_READ)
def index():
    who = acting()
    filters = filter_args(FILTERS)
    before = request.args.get("before") or None
    found = _filtered(PAGE_SIZE + 1, before)
    rows = found[:PAGE_SIZE]
    all_scripts = scripts.list_scripts(who.actor, who.tenant_id, limit=MAX_PAGE)
    return render("executions/list.html", "results", executions=rows, older=rows[-1].id if len(found) > PAGE_SIZE
                  else None, before=before, filters=filters, scripts=all_scripts,
                  script_names={s.id: s.name for s in all_scripts}, statuses=EXECUTION_STATUSES, triggers=TRIGGERS,
                  live=before is None)


@bp.get("/export.<any(csv, json):fmt>")
@page(rbac.SCRIPTS_READ)
def export(fmt: str):
    """The filtered list (newest first, at most EXPORT_ROWS rows) as a CSV or JSON download."""
    who = acting()
    rows = newest_first(_filtered, EXPORT_ROWS)
    names = scripts.names(who.actor, who.tenant_id, list({e.script_id for e in rows}))
    body = exports.as_csv(rows, names) if fmt == "csv" else exports.as_json(rows, names)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(body, mimetype="text/csv" if fmt == "csv" else "application/json",
                    headers={"Content-Disposition": f'attachment; filename="executions-{stamp}.{fmt}"'})


@bp.get("/<execution_id>")
@page(rbac.SCRIPTS_READ)
def detail(execution_id: str):
    who = acting()
    execution = executions.get(who.actor, who.tenant_id, execution_id)
    script = scripts.get(who.actor, who.tenant_id, execution.script_id)
    version = None
    if execution.script_version:
        version = scripts.version(who.actor, who.tenant_id, script.id, execution.script_version)
    starter = accounts.user_names(who.actor, who.tenant_id, [execution.triggered_by]).get(execution.triggered_by)
    return render("executions/detail.html", "run", execution=execution, script=script, version=version,
                  starter=starter, live=execution.status in LIVE, can_rerun=who.can(rbac.SCRIPTS_EXECUTE),
                  attempts=executions.attempts(who.actor, who.tenant_id, execution))


@bp.post("/<execution_id>/rerun")
@page(rbac.SCRIPTS_EXECUTE)
def rerun(execution_id: str):
    """Run the script again with this execution's input (a new manual execution)."""
    who = acting()
    execution = executions.get(who.actor, who.tenant_id, execution_id)
    again = executions.enqueue(who.actor, who.tenant_id, execution.script_id, execution.input)
    return navigate(url_for("executions.detail", execution_id=again.id))
