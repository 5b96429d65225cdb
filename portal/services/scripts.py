"""Scripts: validation, lifecycle, versions and rollback. Every change is audited."""

import re
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy import update as sql_update

from portal.extensions import db
from portal.models import HTTP_AUTH_MODES, SCRIPT_STATUSES, SCRIPT_TYPES, Execution, Script, ScriptVersion, Tenant
from portal.models.execution import error_record
from portal.services import audit, cron, libraries, outbox, rbac
from portal.services import runtime as runtime_service
from portal.services.errors import Conflict, NotFound, PermissionDenied, ValidationError, refused_writes
from portal.services.inputs import (
    require_choice,
    require_number,
    require_text,
    text_error,
    timezone_error,
)
from portal.services.queries import page, tenant_row, where_given
from portal.services.rbac import Actor
from portal.services.scope import in_tenant
from runtime import ErrorKind
from runtime.modules import may_be_module

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HANDLER_BY_TYPE = {"scheduled": "main", "oneoff": "main", "embedded": "main", "http": "handler", "event": "onEvent"}
# Status changes a user may make: current status → allowed targets.
TRANSITIONS = {
    "draft": {"active", "disabled", "archived"},
    "active": {"paused", "disabled", "archived"},
    "paused": {"active", "disabled", "archived"},
    "disabled": {"active", "archived"},
    "archived": {"draft"},
}
NAME_RE = re.compile(r"^[\w][\w .-]{0,99}$")
PATH_RE = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
EVENT_PATTERN_RE = re.compile(r"^(\*|[a-z0-9_-]+(\.([a-z0-9_-]+|\*))*)$")
EDITABLE = ("name", "description", "source", "type", "cron_expression", "timezone", "http_path", "http_methods",
            "http_auth", "event_patterns", "timeout_ms", "memory_mb", "host_calls", "concurrency")
# Longest values of the free-text fields (each column's size, or a sane bound for TEXT columns).
MAX_LENGTHS = {"description": 2000, "cron_expression": 100, "timezone": 64, "http_path": 200,
               "change_description": 500, "event_pattern": 200}
MAX_EVENT_PATTERNS = 50
MAX_PREVIEW = 50  # fire times one schedule preview lists
LIMIT_FIELDS = {"timeout_ms": "max_timeout_ms", "memory_mb": "max_memory_mb", "host_calls": "max_host_calls",
                "concurrency": "max_concurrency"}


def snapshot(script: Script) -> dict[str, Any]:
    return {field: getattr(script, field) for field in EDITABLE}


# -- queries -------------------------------------------------------------------------------
@in_tenant
def get(actor: Actor, tenant_id: str, script_id: str) -> Script:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    return tenant_row(Script, tenant_id, script_id, _l("Script not found."))


@in_tenant
def list_scripts(actor: Actor, tenant_id: str, *, status: str | None = None, type: str | None = None,
                 search: str | None = None, limit: int = 100, offset: int = 0) -> list[Script]:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    require_choice("status", status, SCRIPT_STATUSES)
    require_choice("type", type, SCRIPT_TYPES)
    require_text("q", search, 100)
    query = where_given(select(Script).where(Script.tenant_id == tenant_id), (Script.status, status),
                        (Script.type, type))
    if search:
        query = query.where(Script.name.icontains(search, autoescape=True))
    return list(db.session.scalars(page(query.order_by(Script.name, Script.id), limit, offset)))


@in_tenant
def names(actor: Actor, tenant_id: str, script_ids: list[str]) -> dict[str, str]:
    """The names of the tenant's scripts among `script_ids`, by id."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    if not script_ids:
        return {}
    query = select(Script.id, Script.name).where(Script.tenant_id == tenant_id, Script.id.in_(script_ids))
    return {script_id: name for script_id, name in db.session.execute(query)}


@in_tenant
def check(actor: Actor, tenant_id: str, source: Any) -> dict[str, Any]:
    """The editor's check of a source as it is typed: field errors with line and column, {} when fine."""
    if not (actor.can(rbac.SCRIPTS_CREATE, tenant_id) or actor.can(rbac.SCRIPTS_UPDATE, tenant_id)):
        raise PermissionDenied()
    return validate_source(source)


@in_tenant
def versions(actor: Actor, tenant_id: str, script_id: str, *, limit: int = 100, offset: int = 0
             ) -> list[ScriptVersion]:
    script = get(actor, tenant_id, script_id)
    query = select(ScriptVersion).where(ScriptVersion.script_id == script.id).order_by(ScriptVersion.version.desc())
    return list(db.session.scalars(page(query, limit, offset)))


@in_tenant
def version(actor: Actor, tenant_id: str, script_id: str, number: int) -> ScriptVersion:
    require_number("version", number, 1)
    script = get(actor, tenant_id, script_id)
    found = db.session.scalar(select(ScriptVersion).where(ScriptVersion.script_id == script.id,
                                                          ScriptVersion.version == number))
    if found is None:
        raise NotFound(_l("Version %(number)s of this script does not exist.", number=number))
    return found


# -- validation ----------------------------------------------------------------------------
def validate_source(source: Any, modules: dict[str, str] | None = None) -> dict[str, Any]:
    """Size, syntax and imports (among `modules`) of a source; returns field errors with line and column details."""
    if not isinstance(source, str) or not source.strip():
        return {"source": _l("The script has no source.")}
    if (unstorable := text_error(source, len(source))) is not None:
        return {"source": unstorable}
    limit = current_app.config["JSR_SOURCE_BYTES"]
    error = runtime_service.pool().check(source, limit, modules)
    if error is not None and error.kind is ErrorKind.SOURCE_TOO_LARGE:
        return {"source": _l("The script is %(size)s bytes; the limit is %(limit)s bytes.",
                             size=len(source.encode()), limit=limit)}
    if error is not None and error.kind in (ErrorKind.BUSY, ErrorKind.CRASHED):
        return {"source": _l("The script could not be checked right now; please try again.")}
    if error is not None and error.kind is ErrorKind.SYNTAX and error.line is None:
        return {"source": _l("Syntax error: %(message)s", message=error.message)}
    if error is not None and error.kind is ErrorKind.SYNTAX:
        return {"source": _l("Syntax error at line %(line)s, column %(column)s: %(message)s",
                             line=error.line, column=error.column, message=error.message),
                "source_line": error.line, "source_column": error.column}
    return {}


def _validate(values: dict[str, Any], tenant: Tenant, script_id: str | None) -> None:
    errors: dict[str, Any] = {}
    name = values.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name.strip()):
        errors["name"] = _l("A name is 1–100 letters, digits, spaces, dots, dashes or underscores.")
    elif _taken(Script.name, name.strip(), tenant.id, script_id):
        errors["name"] = _l("A script with this name already exists.")
    if values.get("type") not in SCRIPT_TYPES:
        errors["type"] = _l("Choose one of: %(choices)s.", choices=", ".join(SCRIPT_TYPES))
    for field in ("description", "change_description"):
        if (message := text_error(values.get(field), MAX_LENGTHS[field])) is not None:
            errors[field] = message
    if (message := timezone_error(values.get("timezone"))) is not None:
        errors["timezone"] = message
    if values.get("http_auth") not in HTTP_AUTH_MODES:
        errors["http_auth"] = _l("Choose one of: %(choices)s.", choices=", ".join(HTTP_AUTH_MODES))
    source = values.get("source")
    modules = libraries.modules_for(tenant.id) if isinstance(source, str) and may_be_module(source) else None
    source_errors = validate_source(source, modules)
    details = {key: source_errors.pop(key) for key in ("source_line", "source_column") if key in source_errors}
    errors.update(source_errors)
    kind = values.get("type")
    if kind == "scheduled":
        errors.update(_validate_schedule(values))
    if kind == "http":
        errors.update(_validate_http(values, tenant, script_id))
    if kind == "event":
        patterns = values.get("event_patterns")
        if not isinstance(patterns, list) or not patterns or len(patterns) > MAX_EVENT_PATTERNS:
            errors["event_patterns"] = _l("An event script needs 1 to %(count)s event patterns.",
                                          count=MAX_EVENT_PATTERNS)
        elif not all(isinstance(p, str) and len(p) <= MAX_LENGTHS["event_pattern"] and EVENT_PATTERN_RE.match(p)
                     for p in patterns):
            errors["event_patterns"] = _l("Event patterns look like order.paid, order.* or *.")
    for field, maximum_field in LIMIT_FIELDS.items():
        value = values.get(field)
        if value is None:
            continue
        maximum = getattr(tenant, maximum_field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > maximum:
            errors[field] = _l("Must be a whole number from 1 to %(maximum)s.", maximum=maximum)
    if errors:
        raise ValidationError(errors, details=details)


def _validate_schedule(values: dict[str, Any]) -> dict[str, Any]:
    expression = values.get("cron_expression")
    if (not isinstance(expression, str) or len(expression) > MAX_LENGTHS["cron_expression"]
            or len(expression.split()) != 5 or text_error(expression, len(expression)) or
            not croniter.is_valid(expression)):
        return {"cron_expression": _l("A cron expression has five fields, e.g. */5 * * * *.")}
    if timezone_error(values.get("timezone")) is None and cron.never_fires(expression, values["timezone"]):
        return {"cron_expression": _l("This cron expression never fires.")}
    return {}


def preview_schedule(actor: Actor, tenant_id: str, expression: Any, timezone: Any, n: int = 5) -> list[datetime]:
    """The next `n` fire times of a cron expression in a time zone (UTC): the editor's preview."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    values = {"cron_expression": expression, "timezone": timezone or "UTC"}
    require_number("n", n, 1, MAX_PREVIEW)
    errors = _validate_schedule(values)
    if (message := timezone_error(values["timezone"])) is not None:
        errors["timezone"] = message
    if errors:
        raise ValidationError(errors)
    return cron.upcoming_runs(expression, values["timezone"], n)


def _validate_http(values: dict[str, Any], tenant: Tenant, script_id: str | None) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    path = values.get("http_path")
    if not isinstance(path, str) or len(path) > MAX_LENGTHS["http_path"] or not PATH_RE.match(path):
        errors["http_path"] = _l("A path is segments of letters, digits, '.', '_', '~' or '-' separated by '/'.")
    elif _taken(Script.http_path, path, tenant.id, script_id):
        errors["http_path"] = _l("Another script of this tenant already uses this path.")
    methods = values.get("http_methods")
    if not isinstance(methods, list) or not methods or not set(methods) <= set(HTTP_METHODS):
        errors["http_methods"] = _l("Choose at least one of: %(choices)s.", choices=", ".join(HTTP_METHODS))
    return errors


def _taken(column, value: str, tenant_id: str, script_id: str | None) -> bool:
    query = select(Script.id).where(Script.tenant_id == tenant_id, column == value)
    if script_id:
        query = query.where(Script.id != script_id)
    return db.session.scalar(query.limit(1)) is not None


def _normalise(data: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    values = dict(base)
    for field in EDITABLE:
        if field in data:
            values[field] = data[field]
    if isinstance(values.get("name"), str):
        values["name"] = values["name"].strip()
    if isinstance(values.get("http_path"), str):
        values["http_path"] = values["http_path"].strip().strip("/")
    if isinstance(values.get("http_methods"), list):
        values["http_methods"] = sorted({str(m).upper() for m in values["http_methods"]})
    values.setdefault("timezone", "UTC")
    values["timezone"] = values.get("timezone") or "UTC"
    values.setdefault("http_auth", "none")
    values["http_auth"] = values.get("http_auth") or "none"
    values.setdefault("http_methods", [])
    values.setdefault("event_patterns", [])
    values.setdefault("description", "")
    values["change_description"] = data["change_description"] if data.get("change_description") is not None else ""
    if values.get("type") != "scheduled":
        values["cron_expression"] = None
    if values.get("type") != "http":
        values["http_path"], values["http_methods"] = None, []
    if values.get("type") != "event":
        values["event_patterns"] = []
    return values


def _tenant(tenant_id: str) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(_l("Unknown tenant."))
    return tenant


# -- changes -------------------------------------------------------------------------------
@in_tenant
def create(actor: Actor, tenant_id: str, data: dict[str, Any]) -> Script:
    rbac.require(actor, rbac.SCRIPTS_CREATE, tenant_id)
    tenant = _tenant(tenant_id)
    values = _normalise(data, {})
    _validate(values, tenant, None)
    script = Script(tenant_id=tenant.id, author_id=actor.user_id, status="draft", current_version=1,
                    **{k: v for k, v in values.items() if k in EDITABLE})
    with refused_writes(_l("Another script of this tenant has just taken this name or path."),
                        fields=("http_path", "name")):
        db.session.add(script)
        db.session.flush()
        db.session.add(ScriptVersion(script_id=script.id, tenant_id=tenant.id, version=1, source=script.source,
                                     change_description=values["change_description"] or "Created",
                                     author_id=actor.user_id))
        audit.record(actor, "script.create", tenant_id=tenant.id, target_type="script", target_id=script.id,
                     summary=f"created {script.type} script {script.name!r}")
        outbox.publish(tenant.id, "script.created", _event_payload(script))
        db.session.commit()
    return script


def _raced(script_id: str):
    """Refusals of a change to an existing script: 404 when it was deleted meanwhile, else 409."""
    return refused_writes(_l("Another change to this script was saved at the same time; try again."),
                          fields=("http_path", "name"), gone=_l("Script not found."),
                          exists=lambda: db.session.get(Script, script_id, populate_existing=True) is not None)


@in_tenant
def update(actor: Actor, tenant_id: str, script_id: str, data: dict[str, Any]) -> Script:
    """Apply edits; a change writes the next version (sequential, immutable) and an audit event."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE, tenant_id)
    script = get(actor, tenant_id, script_id)
    before = snapshot(script)
    values = _normalise(data, before)
    _validate(values, _tenant(tenant_id), script.id)
    summary, changes = audit.diff_summary(before, {k: values[k] for k in EDITABLE})
    if not changes:
        return script
    with _raced(script.id):
        for field in EDITABLE:
            setattr(script, field, values[field])
        _write_version(actor, script, values["change_description"] or summary)
        if script.type == "scheduled" and script.status == "active":
            script.next_run_at = next_run(script)
        audit.record(actor, "script.update", tenant_id=tenant_id, target_type="script", target_id=script.id,
                     summary=summary, details={"changes": changes, "version": script.current_version})
        outbox.publish(tenant_id, "script.updated", {**_event_payload(script), "changed": sorted(changes)})
        db.session.commit()
    return script


@in_tenant
def rollback(actor: Actor, tenant_id: str, script_id: str, number: int) -> Script:
    """Restore version `number`'s source as a new version; history is never rewritten."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE, tenant_id)
    target = version(actor, tenant_id, script_id, number)
    script = get(actor, tenant_id, script_id)
    with _raced(script.id):
        script.source = target.source
        previous = _write_version(actor, script, f"Rolled back to version {number}") - 1
        audit.record(actor, "script.rollback", tenant_id=tenant_id, target_type="script", target_id=script.id,
                     summary=f"rolled back to version {number} (was {previous}, now {script.current_version})",
                     details={"from_version": previous, "to_version": number,
                              "new_version": script.current_version})
        db.session.commit()
    return script


def _write_version(actor: Actor, script: Script, description: str) -> int:
    """Write the script's next version; returns its number.

    The number comes from an atomic increment of the script's row, which also locks it until
    commit: concurrent changes queue up and number their versions one after another.
    """
    number = db.session.execute(
        sql_update(Script).where(Script.id == script.id)
        .values(current_version=Script.current_version + 1, updated_at=datetime.now(UTC))
        .returning(Script.current_version)).scalar_one_or_none()
    if number is None:
        raise NotFound(_l("Script not found."))
    script.current_version = number
    script.draft_source, script.draft_saved_at = None, None  # the draft was saved (or replaced by a rollback)
    db.session.add(ScriptVersion(script_id=script.id, tenant_id=script.tenant_id, version=number,
                                 source=script.source, change_description=description[:500],
                                 author_id=actor.user_id))
    return number


@in_tenant
def save_draft(actor: Actor, tenant_id: str, script_id: str, source: Any) -> Script:
    """Keep the editor's unsaved source as the script's draft (autosave). A draft is no change: it writes
    no version and no audit event, and the next version clears it. The saved source itself clears it."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE, tenant_id)
    script = get(actor, tenant_id, script_id)
    limit = current_app.config["JSR_SOURCE_BYTES"]
    if (message := text_error(source, limit)) is not None:
        raise ValidationError({"source": message})
    draft = None if source == script.source else source
    with _raced(script.id):
        db.session.execute(sql_update(Script).where(Script.id == script.id)
                           .values(draft_source=draft, draft_saved_at=datetime.now(UTC) if draft else None))
        db.session.commit()
    db.session.refresh(script)
    return script


@in_tenant
def set_status(actor: Actor, tenant_id: str, script_id: str, status: str) -> Script:
    """activate / pause / disable / archive / back to draft, following TRANSITIONS."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE, tenant_id)
    script = get(actor, tenant_id, script_id)
    if status not in SCRIPT_STATUSES:
        raise ValidationError({"status": _l("Choose one of: %(choices)s.", choices=", ".join(SCRIPT_STATUSES))})
    if status == script.status:
        return script
    if status not in TRANSITIONS[script.status]:
        raise Conflict(_l("A %(current)s script cannot become %(target)s.", current=script.status,
                          target=status), field="status")
    if script.type == "scheduled" and status == "active" and cron.never_fires(script.cron_expression or "",
                                                                           script.timezone):
        raise ValidationError({"cron_expression": _l("This cron expression never fires.")})
    previous, script.status = script.status, status
    script.next_run_at = next_run(script) if script.type == "scheduled" and status == "active" else None
    summary, details = f"status: {previous} → {status}", {"before": previous, "after": status}
    if status in ("disabled", "archived"):  # its queued backlog must not run either
        cancelled = db.session.execute(
            sql_update(Execution).where(Execution.script_id == script.id, Execution.status == "pending")
            .values(status="cancelled", finished_at=datetime.now(UTC),
                    error=error_record("cancelled", "ScriptDisabled",
                                       f"the script was {status} before this run started"))
        ).rowcount
        summary, details["cancelled_pending"] = f"{summary}; {cancelled} pending runs cancelled", cancelled
    audit.record(actor, "script.status", tenant_id=tenant_id, target_type="script", target_id=script.id,
                 summary=summary, details=details)
    db.session.commit()
    return script


@in_tenant
def delete(actor: Actor, tenant_id: str, script_id: str) -> None:
    rbac.require(actor, rbac.SCRIPTS_DELETE, tenant_id)
    script = get(actor, tenant_id, script_id)
    audit.record(actor, "script.delete", tenant_id=tenant_id, target_type="script", target_id=script.id,
                 summary=f"deleted {script.type} script {script.name!r} at version {script.current_version}")
    # Its executions and versions go by the foreign keys' ON DELETE CASCADE: on PostgreSQL the app role
    # may not delete versions itself (history is append-only, migration 0004).
    outbox.publish(tenant_id, "script.deleted", _event_payload(script))
    db.session.delete(script)
    db.session.commit()


def _event_payload(script: Script) -> dict[str, Any]:
    """What the script.* domain events carry."""
    return {"scriptId": script.id, "name": script.name, "type": script.type, "version": script.current_version}


def next_run(script: Script) -> datetime | None:
    """The next fire time of a scheduled script from now, in UTC, computed in the script's time zone."""
    if not script.cron_expression:
        return None
    return cron.next_fire(script.cron_expression, script.timezone or "UTC", datetime.now(UTC))
