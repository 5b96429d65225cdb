"""The tenant's audit trail (audit.read): filter by user, action, target and day, page by key, export CSV."""

from datetime import UTC, datetime

from flask import Blueprint, Response, request

from portal.services import accounts, audit, rbac
from portal.web.audit import exports
from portal.web.pages import acting, day_arg, filter_args, newest_first, page, render

bp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50
EXPORT_ROWS = 10_000
FILTERS = ("user_id", "action", "target_type", "target_id", "since", "until")


def _filtered(limit: int, before: str | None) -> list:
    """One page of the entries the query string's filters select, older than `before` when given."""
    who = acting()
    args = filter_args(FILTERS)
    return audit.list_events(who.actor, who.tenant_id, user_id=args["user_id"], action=args["action"],
                             target_type=args["target_type"], target_id=args["target_id"], since=day_arg("since"),
                             until=day_arg("until", end=True), before=before, limit=limit)


def _user_names(events, choices) -> dict[str, str]:
    who = acting()
    return accounts.user_names(who.actor, who.tenant_id, list({e.user_id for e in events} | set(choices)))


@bp.get("")
@page(rbac.AUDIT_READ)
def index():
    who = acting()
    before = request.args.get("before") or None
    found = _filtered(PAGE_SIZE + 1, before)
    entries = found[:PAGE_SIZE]
    choices = audit.filter_choices(who.actor, who.tenant_id)
    return render("audit/list.html", "results", entries=entries, before=before, filters=filter_args(FILTERS),
                  choices=choices, older=entries[-1].id if len(found) > PAGE_SIZE else None,
                  user_names=_user_names(entries, choices["users"]), field_changes=audit.field_changes)


@bp.get("/export.csv")
@page(rbac.AUDIT_READ)
def export():
    """The filtered entries (newest first, at most EXPORT_ROWS) as a CSV download."""
    rows = newest_first(_filtered, EXPORT_ROWS)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(exports.as_csv(rows, _user_names(rows, [])), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
