"""Script list, editor (Monaco), test panel, versions with diff and rollback.

Saving goes through the JSON API (`/api/v1/scripts`, session + CSRF header) from the editor's
JavaScript, so the portal and the API validate and version scripts in exactly one way.
"""

import json
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Blueprint, current_app, flash, jsonify, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import limiter
from portal.models import HTTP_AUTH_MODES, SCRIPT_STATUSES, SCRIPT_TYPES
from portal.services import accounts, cron, executions, rbac, replay, scripts, transformations
from portal.services.errors import ValidationError
from portal.services.scripts import HTTP_METHODS, TRANSITIONS
from portal.web.labels import label
from portal.web.pages import acting, int_arg, json_body, markers, navigate, page, render, render_block

bp = Blueprint("scripts", __name__, url_prefix="/scripts")
PAGE_SIZE = 25


def _run_rate() -> str:
    return current_app.config["JSR_RUN_RATE"]


def _run_key() -> str:
    return f"portal-runs:{current_user.id}"


@bp.get("")
@page(rbac.SCRIPTS_READ)
def index():
    who = acting()
    filters = {"q": request.args.get("q") or None, "type": request.args.get("type") or None,
               "status": request.args.get("status") or None}
    offset = int_arg("offset")
    found = scripts.list_scripts(who.actor, who.tenant_id, search=filters["q"], type=filters["type"],
                                 status=filters["status"], limit=PAGE_SIZE + 1, offset=offset)
    rows = found[:PAGE_SIZE]
    last_runs = executions.latest_by_script(who.actor, who.tenant_id, [s.id for s in rows])
    return render("scripts/list.html", "results", scripts=rows, last_runs=last_runs, filters=filters,
                  offset=offset, has_more=len(found) > PAGE_SIZE, page_size=PAGE_SIZE, types=SCRIPT_TYPES,
                  statuses=SCRIPT_STATUSES)


@bp.get("/new")
@page(rbac.SCRIPTS_CREATE)
def new():
    kind = request.args.get("type") if request.args.get("type") in SCRIPT_TYPES else "oneoff"
    return _editor(None, kind)


@bp.get("/<script_id>")
@page(rbac.SCRIPTS_READ)
def edit(script_id: str):
    who = acting()
    script = scripts.get(who.actor, who.tenant_id, script_id)
    return _editor(script, script.type)


def _editor(script, kind: str):
    who = acting()
    writable = who.can(rbac.SCRIPTS_UPDATE if script else rbac.SCRIPTS_CREATE)
    return render("scripts/editor.html", script=script, kind=kind, writable=writable, replay_statuses=replay.RAN,
                  can_run=who.can(rbac.SCRIPTS_EXECUTE), can_delete=who.can(rbac.SCRIPTS_DELETE),
                  types=SCRIPT_TYPES, http_methods=HTTP_METHODS, http_auth_modes=HTTP_AUTH_MODES,
                  transitions=sorted(TRANSITIONS[script.status]) if script else [], trigger=_trigger_settings(script))


def _trigger_settings(script) -> dict:
    """What the settings show of a saved script's trigger: its schedule in words (None where cron-descriptor
    lacks the user's language) and next 5 runs in its zone, or its webhook's URL and the example's method."""
    if script is None:
        return {}
    if script.type == "scheduled" and script.cron_expression:
        zone, locale = ZoneInfo(script.timezone), get_locale()
        return {"cron_words": cron.describe(script.cron_expression, locale.language),
                "upcoming": [(moment, format_datetime(moment, "medium", tzinfo=zone, locale=locale))
                             for moment in cron.upcoming_runs(script.cron_expression, script.timezone, 5)]}
    if script.type == "http" and script.http_path:
        return {"hook_url": url_for("hooks.hook", slug=acting().tenant.slug, path=script.http_path, _external=True),
                "example_method": "POST" if "POST" in script.http_methods else script.http_methods[0]}
    return {}


@bp.post("/check")
@page(rbac.SCRIPTS_READ)
def check():
    """Server validation as the editor's markers: [{line, column, message}]."""
    who = acting()
    errors = scripts.check(who.actor, who.tenant_id, json_body().get("source"))
    return jsonify({"markers": markers(errors)})


@bp.post("/test")
@page(rbac.SCRIPTS_EXECUTE)
@limiter.limit(_run_rate, key_func=_run_key)
def test_run():
    """Run the editor's unsaved code with the panel's JSON input; the result panel comes back as HTML.
    Code defining transformEvent/transformBatch runs as a RudderStack transformation over the input's
    request list, and the panel shows RudderStack's response."""
    who = acting()
    data = json_body()
    try:
        given = json.loads(data.get("input") or "null")
    except (TypeError, ValueError):
        raise ValidationError({"input": _l("The input is not valid JSON.")}) from None
    if transformations.is_transformation(data.get("source")):
        response = transformations.run_code(who.actor, who.tenant_id, data.get("source"), given)
        return render_block("scripts/editor.html", "test_result", transformed=response)
    result = executions.run_test(who.actor, who.tenant_id, data.get("source"), data.get("type"), given,
                                 script_id=data.get("script_id") or None)
    return render_block("scripts/editor.html", "test_result", result=result.to_dict())


@bp.post("/<script_id>/draft")
@page(rbac.SCRIPTS_UPDATE)
def save_draft(script_id: str):
    """The editor's autosave (2 s after the last keystroke): no version, no audit event."""
    who = acting()
    scripts.save_draft(who.actor, who.tenant_id, script_id, json_body().get("source"))
    return "", 204


@bp.post("/<script_id>/run")
@page(rbac.SCRIPTS_EXECUTE)
@limiter.limit(_run_rate, key_func=_run_key)
def run(script_id: str):
    """Run the saved version with the panel's input; it is recorded as a manual execution."""
    who = acting()
    try:
        given = json.loads(json_body().get("input") or "null")
    except (TypeError, ValueError):
        raise ValidationError({"input": _l("The input is not valid JSON.")}) from None
    execution = executions.run_now(who.actor, who.tenant_id, script_id, given)
    return jsonify({"url": url_for("executions.detail", execution_id=execution.id)})


@bp.post("/<script_id>/replay")
@page(rbac.SCRIPTS_EXECUTE)
@limiter.limit(_run_rate, key_func=_run_key)
def replay_draft(script_id: str):
    """Re-run recent real inputs against the editor's unsaved code; old and new results side by side."""
    who = acting()
    data = json_body()
    limit = data.get("limit", 10)
    rows, counts = replay.replay(who.actor, who.tenant_id, script_id, data.get("source"),
                                 limit=int(limit) if str(limit).isdigit() else 0, status=data.get("status") or None)
    return render_block("scripts/editor.html", "replay_result", rows=rows, counts=counts)


@bp.post("/<script_id>/status")
@page(rbac.SCRIPTS_UPDATE)
def set_status(script_id: str):
    who = acting()
    script = scripts.set_status(who.actor, who.tenant_id, script_id, request.form.get("status", ""))
    flash(_l("The script is now %(status)s.", status=label("script_status", script.status)), "info")
    return redirect(url_for("scripts.edit", script_id=script.id))


@bp.post("/<script_id>/delete")
@page(rbac.SCRIPTS_DELETE)
def delete(script_id: str):
    who = acting()
    scripts.delete(who.actor, who.tenant_id, script_id)
    flash(_l("The script was deleted."), "info")
    return navigate(url_for("scripts.index"))


@bp.get("/<script_id>/versions")
@page(rbac.SCRIPTS_READ)
def versions(script_id: str):
    who = acting()
    script = scripts.get(who.actor, who.tenant_id, script_id)
    found = scripts.versions(who.actor, who.tenant_id, script_id, limit=200)
    authors = accounts.user_names(who.actor, who.tenant_id, [v.author_id for v in found])
    return render("scripts/versions.html", script=script, versions=found, authors=authors,
                  can_rollback=who.can(rbac.SCRIPTS_UPDATE))


@bp.get("/<script_id>/diff")
@page(rbac.SCRIPTS_READ)
def diff(script_id: str):
    """Monaco's diff editor between two versions (by default the previous and the current one)."""
    who = acting()
    script = scripts.get(who.actor, who.tenant_id, script_id)
    draft = request.args.get("b") == "draft" and script.draft_source is not None
    right = script.current_version if draft else int_arg("b", script.current_version, 1)
    left = int_arg("a", right if draft else max(1, right - 1), 1)
    return render("scripts/diff.html", script=script, draft=draft,
                  left=scripts.version(who.actor, who.tenant_id, script_id, left),
                  right=None if draft else scripts.version(who.actor, who.tenant_id, script_id, right))


@bp.post("/<script_id>/rollback")
@page(rbac.SCRIPTS_UPDATE)
def rollback(script_id: str):
    who = acting()
    number = int(request.form.get("version", "0")) if request.form.get("version", "").isdigit() else 0
    script = scripts.rollback(who.actor, who.tenant_id, script_id, number)
    flash(_l("Rolled back to version %(number)s; saved as version %(version)s.", number=number,
             version=script.current_version), "info")
    return navigate(url_for("scripts.edit", script_id=script.id))
