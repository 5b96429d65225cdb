"""Execution history (filters, live status by htmx polling) and the detail page."""

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, request, url_for
from flask_babel import lazy_gettext as _l

from portal.models import EXECUTION_STATUSES, TRIGGERS
from portal.services import accounts, executions, rbac, scripts
from portal.services.errors import ValidationError
from portal.web.pages import acting, int_arg, navigate, page, render

bp = Blueprint("executions", __name__, url_prefix="/executions")
PAGE_SIZE = 50
LIVE = ("pending", "running")


def _day(name: str, end: bool = False) -> datetime | None:
    """A date filter (YYYY-MM-DD, a UTC day) as the start of that day, or of the next one for `end`."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value).date()
    except ValueError:
        raise ValidationError({name: _l("Use a date such as 2026-11-27.")}) from None
    return datetime.combine(day + timedelta(days=1) if end else day, time.min, UTC)


@bp.get("")
@page(rbac.SCRIPTS_READ)
def index():
    who = acting()
    filters = {name: request.args.get(name) or None for name in ("script_id", "status", "trigger", "since", "until")}
    offset = int_arg("offset")
    found = executions.list_executions(who.actor, who.tenant_id, script_id=filters["script_id"],
                                       status=filters["status"], trigger=filters["trigger"], since=_day("since"),
                                       until=_day("until", end=True), limit=PAGE_SIZE + 1, offset=offset)
    rows = found[:PAGE_SIZE]
    all_scripts = scripts.list_scripts(who.actor, who.tenant_id, limit=500)
    return render("executions/list.html", "results", executions=rows, has_more=len(found) > PAGE_SIZE,
                  offset=offset, page_size=PAGE_SIZE, filters=filters, scripts=all_scripts,
                  script_names={s.id: s.name for s in all_scripts}, statuses=EXECUTION_STATUSES, triggers=TRIGGERS,
                  live=offset == 0)


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
                  starter=starter, live=execution.status in LIVE, can_rerun=who.can(rbac.SCRIPTS_EXECUTE))


@bp.post("/<execution_id>/rerun")
@page(rbac.SCRIPTS_EXECUTE)
def rerun(execution_id: str):
    """Run the script again with this execution's input (a new manual execution)."""
    who = acting()
    execution = executions.get(who.actor, who.tenant_id, execution_id)
    again = executions.enqueue(who.actor, who.tenant_id, execution.script_id, execution.input)
    return navigate(url_for("executions.detail", execution_id=again.id))
