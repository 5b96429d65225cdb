"""The /api/v1 routes: parse, call a service, present. No domain logic here."""

import functools
import json
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l
from limits import parse

from portal.extensions import csrf, limiter
from portal.services import (
    accounts,
    audit,
    events,
    executions,
    hooks,
    libraries,
    rbac,
    scripts,
    secrets,
    transformations,
)
from portal.services.errors import ServiceError, TooManyRequests, UnsupportedMediaType, ValidationError
from portal.services.inputs import MAX_JSON_DEPTH, depth, refuse_json_constant
from portal.web.api.auth import authenticate
from portal.web.api.openapi import openapi_document
from portal.web.api.presenters import (
    audit_json,
    dead_letter_json,
    execution_json,
    library_json,
    script_json,
    secret_json,
    token_json,
    user_json,
    version_json,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer-token calls carry no CSRF token; session calls are checked in authenticate()


@bp.before_request
def _authenticate():
    if request.endpoint != "api.openapi":
        authenticate()


def requires(permission: str):
    """The view-level RBAC check; the service checks again."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            rbac.require(g.actor, permission, g.tenant_id)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def _body(*, array: bool = False) -> Any:
    """The JSON object sent (an empty body is {}; with `array`, a JSON array is accepted too): 413 above
    JSR_MAX_BODY_BYTES (Werkzeug raises it while reading), 415 when it is not JSON, 400 for malformed JSON,
    NaN/Infinity or nesting past MAX_JSON_DEPTH."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    if not request.is_json:
        raise UnsupportedMediaType()
    try:
        data = json.loads(raw, parse_constant=refuse_json_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise BadRequestJSON() from None
    if depth(data) > MAX_JSON_DEPTH:
        raise BadRequestJSON(_l("The request body nests more than %(depth)s levels deep.", depth=MAX_JSON_DEPTH))
    if not isinstance(data, dict) and not (array and isinstance(data, list)):
        raise BadRequestJSON(_l("The request body must be a JSON object."))
    return data


class BadRequestJSON(ServiceError):
    status = 400

    def __init__(self, message=None):
        super().__init__(message or _l("The request body is not valid JSON."))


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValidationError({name: _l("Must be a whole number.")}) from None


def _time_arg(name: str) -> datetime | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError({name: _l("Use an ISO 8601 time, e.g. 2026-11-23T10:00:00Z.")}) from None


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.get("/scripts")
@requires(rbac.SCRIPTS_READ)
def list_scripts():
    found = scripts.list_scripts(g.actor, g.tenant_id, status=request.args.get("status"),
                                 type=request.args.get("type"), search=request.args.get("q"),
                                 limit=_int_arg("limit", 100), offset=_int_arg("offset", 0))
    return jsonify({"items": [script_json(s) for s in found]})


@bp.post("/scripts")
@requires(rbac.SCRIPTS_CREATE)
def create_script():
    script = scripts.create(g.actor, g.tenant_id, _body())
    return jsonify(script_json(script, source=True)), 201


@bp.get("/scripts/<script_id>")
@requires(rbac.SCRIPTS_READ)
def get_script(script_id: str):
    return jsonify(script_json(scripts.get(g.actor, g.tenant_id, script_id), source=True))


@bp.patch("/scripts/<script_id>")
@requires(rbac.SCRIPTS_UPDATE)
def update_script(script_id: str):
    script = scripts.update(g.actor, g.tenant_id, script_id, _body())
    return jsonify(script_json(script, source=True))


@bp.delete("/scripts/<script_id>")
@requires(rbac.SCRIPTS_DELETE)
def delete_script(script_id: str):
    scripts.delete(g.actor, g.tenant_id, script_id)
    return "", 204


@bp.post("/scripts/<script_id>/status")
@requires(rbac.SCRIPTS_UPDATE)
def set_status(script_id: str):
    script = scripts.set_status(g.actor, g.tenant_id, script_id, str(_body().get("status", "")))
    return jsonify(script_json(script))


@bp.get("/scripts/<script_id>/versions")
@requires(rbac.SCRIPTS_READ)
def list_versions(script_id: str):
    found = scripts.versions(g.actor, g.tenant_id, script_id, limit=_int_arg("limit", 100),
                             offset=_int_arg("offset", 0))
    return jsonify({"items": [version_json(v) for v in found]})


@bp.get("/scripts/<script_id>/versions/<int:number>")
@requires(rbac.SCRIPTS_READ)
def get_version(script_id: str, number: int):
    return jsonify(version_json(scripts.version(g.actor, g.tenant_id, script_id, number), source=True))


@bp.post("/scripts/<script_id>/rollback")
@requires(rbac.SCRIPTS_UPDATE)
def rollback(script_id: str):
    number = _body().get("version")
    if not isinstance(number, int) or isinstance(number, bool):
        raise ValidationError({"version": _l("Must be a whole number.")})
    return jsonify(script_json(scripts.rollback(g.actor, g.tenant_id, script_id, number), source=True))


@bp.get("/schedule-preview")
@requires(rbac.SCRIPTS_READ)
def schedule_preview():
    """The next fire times of ?cron= in ?timezone= (default UTC), ?n= of them (default 5)."""
    times = scripts.preview_schedule(g.actor, g.tenant_id, request.args.get("cron"), request.args.get("timezone"),
                                     _int_arg("n", 5))
    return jsonify({"times": [moment.isoformat() for moment in times]})


@bp.post("/scripts/<script_id>/hook-secret")
@requires(rbac.SCRIPTS_UPDATE)
def rotate_hook_secret(script_id: str):
    """A new webhook secret (token or HMAC key), returned once; the former one stops working."""
    return jsonify({"secret": hooks.rotate_secret(g.actor, g.tenant_id, script_id)})


def _count_run() -> None:
    """JSR_RUN_RATE: run and enqueue requests per token (or per user for session calls), shared by both."""
    rate = parse(current_app.config["JSR_RUN_RATE"])
    if not limiter.limiter.hit(rate, "api-runs", g.actor.token_id or g.actor.user_id or "system"):
        raise TooManyRequests(_l("Too many runs requested; wait a moment and try again."),
                              retry_after=rate.get_expiry())


@bp.post("/scripts/<script_id>/run")
@requires(rbac.SCRIPTS_EXECUTE)
def run_script(script_id: str):
    _count_run()
    execution = executions.run_now(g.actor, g.tenant_id, script_id, _body().get("input"), trigger="api")
    return jsonify(execution_json(execution)), 200


@bp.post("/scripts/<script_id>/enqueue")
@requires(rbac.SCRIPTS_EXECUTE)
def enqueue_script(script_id: str):
    _count_run()
    execution = executions.enqueue(g.actor, g.tenant_id, script_id, _body().get("input"), trigger="api")
    response = jsonify(execution_json(execution))
    response.headers["Location"] = f"{bp.url_prefix}/executions/{execution.id}"
    return response, 202


@bp.post("/scripts/<script_id>/transform")
@requires(rbac.SCRIPTS_EXECUTE)
def transform_with_script(script_id: str):
    _count_run()
    body = _body()
    return jsonify(transformations.run_script(g.actor, g.tenant_id, script_id, body.get("events"),
                                              body.get("test", False)))


@bp.post("/transform")
@requires(rbac.SCRIPTS_EXECUTE)
def transform_code():
    _count_run()
    body = _body()
    return jsonify(transformations.run_code(g.actor, g.tenant_id, body.get("code"), body.get("events"),
                                            body.get("test", True)))


@bp.get("/libraries")
@requires(rbac.SCRIPTS_READ)
def list_libraries():
    found = libraries.list_libraries(g.actor, g.tenant_id, limit=_int_arg("limit", 100), offset=_int_arg("offset", 0))
    return jsonify({"items": [library_json(item) for item in found]})


@bp.post("/libraries")
@requires(rbac.SCRIPTS_CREATE)
def create_library():
    return jsonify(library_json(libraries.create(g.actor, g.tenant_id, _body()), source=True)), 201


@bp.get("/libraries/<library_id>")
@requires(rbac.SCRIPTS_READ)
def get_library(library_id: str):
    return jsonify(library_json(libraries.get(g.actor, g.tenant_id, library_id), source=True))


@bp.patch("/libraries/<library_id>")
@requires(rbac.SCRIPTS_UPDATE)
def update_library(library_id: str):
    return jsonify(library_json(libraries.update(g.actor, g.tenant_id, library_id, _body()), source=True))


@bp.delete("/libraries/<library_id>")
@requires(rbac.SCRIPTS_DELETE)
def delete_library(library_id: str):
    libraries.delete(g.actor, g.tenant_id, library_id)
    return "", 204


@bp.get("/libraries/<library_id>/versions")
@requires(rbac.SCRIPTS_READ)
def list_library_versions(library_id: str):
    found = libraries.versions(g.actor, g.tenant_id, library_id, limit=_int_arg("limit", 100),
                               offset=_int_arg("offset", 0))
    return jsonify({"items": [version_json(item) for item in found]})


@bp.get("/libraries/<library_id>/versions/<int:number>")
@requires(rbac.SCRIPTS_READ)
def get_library_version(library_id: str, number: int):
    return jsonify(version_json(libraries.version(g.actor, g.tenant_id, library_id, number), source=True))


@bp.get("/secrets")
@requires(rbac.SECRETS_MANAGE)
def list_secrets():
    return jsonify({"items": [secret_json(s) for s in secrets.names(g.actor, g.tenant_id)]})


@bp.put("/secrets/<name>")
@requires(rbac.SECRETS_MANAGE)
def put_secret(name: str):
    return jsonify(secret_json(secrets.put(g.actor, g.tenant_id, name, _body().get("value"))))


@bp.delete("/secrets/<name>")
@requires(rbac.SECRETS_MANAGE)
def delete_secret(name: str):
    secrets.delete(g.actor, g.tenant_id, name)
    return "", 204


@bp.get("/executions")
@requires(rbac.SCRIPTS_READ)
def list_executions():
    found = executions.list_executions(
        g.actor, g.tenant_id, script_id=request.args.get("script_id"), status=request.args.get("status"),
        trigger=request.args.get("trigger"), since=_time_arg("since"), until=_time_arg("until"),
        limit=_int_arg("limit", 50), offset=_int_arg("offset", 0))
    return jsonify({"items": [execution_json(e, detail=False) for e in found]})


@bp.get("/executions/<execution_id>")
@requires(rbac.SCRIPTS_READ)
def get_execution(execution_id: str):
    return jsonify(execution_json(executions.get(g.actor, g.tenant_id, execution_id)))


@bp.post("/executions/<execution_id>/cancel")
@requires(rbac.EXECUTIONS_CANCEL)
def cancel_execution(execution_id: str):
    return jsonify(execution_json(executions.cancel(g.actor, g.tenant_id, execution_id)))


@bp.get("/audit")
@requires(rbac.AUDIT_READ)
def list_audit():
    found = audit.list_events(g.actor, g.tenant_id, target_id=request.args.get("target_id"),
                              action=request.args.get("action"), limit=_int_arg("limit", 50),
                              offset=_int_arg("offset", 0))
    return jsonify({"items": [audit_json(e) for e in found]})


@bp.get("/users")
@requires(rbac.USERS_MANAGE)
def list_users():
    found = accounts.list_users(g.actor, g.tenant_id, limit=_int_arg("limit", 100), offset=_int_arg("offset", 0))
    return jsonify({"items": [user_json(u) for u in found]})


@bp.post("/users")
@requires(rbac.USERS_MANAGE)
def create_user():
    data = _body()
    user = accounts.create_user(g.actor, g.tenant_id, data.get("email"), data.get("password"), data.get("role"),
                                data.get("name") or "")
    return jsonify(user_json(user)), 201


@bp.patch("/users/<user_id>")
@requires(rbac.USERS_MANAGE)
def update_user(user_id: str):
    return jsonify(user_json(accounts.update_user(g.actor, g.tenant_id, user_id, _body())))


@bp.get("/tokens")
@requires(rbac.TOKENS_MANAGE)
def list_tokens():
    found = accounts.list_tokens(g.actor, g.tenant_id, limit=_int_arg("limit", 100), offset=_int_arg("offset", 0))
    return jsonify({"items": [token_json(t) for t in found]})


@bp.post("/tokens")
@requires(rbac.TOKENS_MANAGE)
def create_token():
    data = _body()
    secret, token = accounts.create_token(g.actor, data.get("user_id", g.actor.user_id), data.get("name"),
                                          data.get("role"), data.get("expires_in_days"), tenant_id=g.tenant_id)
    return jsonify(token_json(token, secret)), 201


@bp.delete("/tokens/<token_id>")
@requires(rbac.TOKENS_MANAGE)
def revoke_token(token_id: str):
    return jsonify(token_json(accounts.revoke_token(g.actor, g.tenant_id, token_id)))


@bp.post("/events")
@requires(rbac.SCRIPTS_EXECUTE)
def publish_events():
    """`{type, payload}` answers `{id}`; an array of them answers `{ids}`, published together."""
    data = _body(array=True)
    published = events.publish_many(g.actor, g.tenant_id, data if isinstance(data, list) else [data])
    if isinstance(data, list):
        return jsonify({"ids": [event.id for event in published]}), 202
    return jsonify({"id": published[0].id}), 202


def _dead_letter_filters() -> dict[str, Any]:
    return {"script_id": request.args.get("script_id"), "event_type": request.args.get("event_type"),
            "since": _time_arg("since"), "until": _time_arg("until")}


@bp.get("/dead-letters")
@requires(rbac.SCRIPTS_READ)
def list_dead_letters():
    found = events.list_dead_letters(g.actor, g.tenant_id, **_dead_letter_filters(),
                                     status=request.args.get("status"), limit=_int_arg("limit", 50),
                                     offset=_int_arg("offset", 0))
    return jsonify({"items": [dead_letter_json(letter) for letter in found]})


@bp.post("/dead-letters/<dead_letter_id>/replay")
@requires(rbac.SCRIPTS_EXECUTE)
def replay_dead_letter(dead_letter_id: str):
    data = _body()
    edited = {"payload": data["payload"]} if "payload" in data else {}
    execution = events.replay(g.actor, g.tenant_id, dead_letter_id, **edited)
    return jsonify(execution_json(execution)), 202


@bp.post("/dead-letters/replay")
@requires(rbac.SCRIPTS_EXECUTE)
def replay_dead_letters():
    """Replay the dead letters the query's filters select (script_id, event_type, since, until)."""
    replayed = events.replay_many(g.actor, g.tenant_id, **_dead_letter_filters())
    return jsonify({"items": [execution_json(e, detail=False) for e in replayed]}), 202


@bp.delete("/dead-letters/<dead_letter_id>")
@requires(rbac.SCRIPTS_DELETE)
def discard_dead_letter(dead_letter_id: str):
    events.discard(g.actor, g.tenant_id, dead_letter_id)
    return "", 204
