"""Dead-letter queue: filters, detail, replay one (as it was or with an edited payload), replay a selection
or everything the filters match, discard. Every action is a service call (which checks the permission again
and audits); the permissions are the API's: read to see, execute to replay, delete to discard."""

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.datastructures import MultiDict

from portal.models import DEAD_LETTER_STATUSES
from portal.services import events, executions, rbac, scripts
from portal.services.errors import ValidationError
from portal.services.inputs import parse_json_text
from portal.services.queries import MAX_PAGE
from portal.web.pages import acting, day_arg, int_arg, navigate, page, render

bp = Blueprint("dead_letters", __name__, url_prefix="/dead-letters")
PAGE_SIZE = 50
FILTERS = ("script_id", "event_type", "since", "until", "status")


def _filters(values: MultiDict) -> dict[str, str | None]:
    return {name: values.get(name) or None for name in FILTERS}


def _service_filters(values: MultiDict) -> dict:
    """The filters as the service takes them (days as UTC times; the status is the caller's)."""
    given = _filters(values)
    return {"script_id": given["script_id"], "event_type": given["event_type"],
            "since": day_arg("since", values=values), "until": day_arg("until", end=True, values=values)}


@bp.get("")
@page(rbac.SCRIPTS_READ)
def index():
    who = acting()
    filters, offset = _filters(request.args), int_arg("offset")
    all_scripts = scripts.list_scripts(who.actor, who.tenant_id, limit=MAX_PAGE)
    context = {"filters": filters, "offset": offset, "page_size": PAGE_SIZE, "scripts": all_scripts,
               "script_names": {s.id: s.name for s in all_scripts}, "statuses": DEAD_LETTER_STATUSES,
               "can_replay": who.can(rbac.SCRIPTS_EXECUTE), "letters": [], "has_more": False, "waiting": 0,
               "max_batch": events.MAX_BATCH, "replays": {}}
    try:
        wanted = _service_filters(request.args)
        found = events.list_dead_letters(who.actor, who.tenant_id, **wanted, status=filters["status"],
                                         limit=PAGE_SIZE + 1, offset=offset)
        waiting = events.count_dead_letters(who.actor, who.tenant_id, **wanted, status="dead")
    except ValidationError as exc:  # a bad filter value: the page says which, with nothing listed
        return render("dead_letters/list.html", "results", **context, filter_errors=exc.errors), 400
    replays = executions.by_ids(who.actor, who.tenant_id, [d.replay_execution_id for d in found])
    return render("dead_letters/list.html", "results", **{**context, "letters": found[:PAGE_SIZE],
                  "has_more": len(found) > PAGE_SIZE, "waiting": waiting, "replays": replays})


@bp.get("/<dead_letter_id>")
@page(rbac.SCRIPTS_READ)
def detail(dead_letter_id: str):
    return _detail(dead_letter_id)


def _detail(dead_letter_id: str, payload_error: str | None = None, edited: str | None = None):
    who = acting()
    letter = events.get_dead_letter(who.actor, who.tenant_id, dead_letter_id)
    failed = executions.by_ids(who.actor, who.tenant_id, [letter.execution_id]).get(letter.execution_id)
    chain = executions.attempts(who.actor, who.tenant_id, failed) if failed else []
    replay = executions.by_ids(who.actor, who.tenant_id, [letter.replay_execution_id]).get(letter.replay_execution_id)
    names = scripts.names(who.actor, who.tenant_id, [letter.script_id] if letter.script_id else [])
    status = 200 if payload_error is None else 400
    return render("dead_letters/detail.html", letter=letter, attempts=chain or ([failed] if failed else []),
                  replay=replay, script_name=names.get(letter.script_id), can_replay=who.can(rbac.SCRIPTS_EXECUTE),
                  can_discard=who.can(rbac.SCRIPTS_DELETE), payload_error=payload_error, edited=edited), status


@bp.post("/<dead_letter_id>/replay")
@page(rbac.SCRIPTS_EXECUTE)
def replay(dead_letter_id: str):
    """Replay as it was, or with the payload edited in the detail page's JSON editor (`payload`)."""
    who = acting()
    edited = {}
    if "payload" in request.form:
        try:
            edited["payload"] = parse_json_text("payload", request.form["payload"])
        except ValidationError as exc:  # nothing is replayed; the editor keeps the text (404 for an unknown id)
            return _detail(dead_letter_id, payload_error=exc.errors["payload"], edited=request.form["payload"])
    events.replay(who.actor, who.tenant_id, dead_letter_id, **edited)
    flash(_l("Replayed with the edited payload.") if edited else _l("Replayed."), "info")
    return redirect(url_for("dead_letters.detail", dead_letter_id=dead_letter_id))


@bp.post("/replay")
@page(rbac.SCRIPTS_EXECUTE)
def replay_many():
    """The list's batch action: the checked dead letters (`ids`), or with `all` every waiting one the
    filters match (at most events.MAX_BATCH at a time)."""
    who = acting()
    ids = None if request.form.get("all") else request.form.getlist("ids")
    replayed = events.replay_many(who.actor, who.tenant_id, **_service_filters(request.form), ids=ids)
    flash(ngettext("Replayed %(num)s dead letter.", "Replayed %(num)s dead letters.", len(replayed)), "info")
    kept = {name: value for name, value in _filters(request.form).items() if value}
    return navigate(url_for("dead_letters.index", **kept))


@bp.post("/<dead_letter_id>/discard")
@page(rbac.SCRIPTS_DELETE)
def discard(dead_letter_id: str):
    who = acting()
    events.discard(who.actor, who.tenant_id, dead_letter_id)
    flash(_l("The dead letter was discarded."), "info")
    return navigate(url_for("dead_letters.index"))
