"""The OpenAPI 3.1 document of /api/v1; tests check it lists exactly the implemented routes and that
answers match it, and schemathesis fuzzes the served API against it.

Constraints are the ones the services enforce (lengths, patterns, enums, ranges), taken from the
same constants, so that the document and the code cannot drift apart silently.
"""

from typing import Any

from portal.models import (
    DEAD_LETTER_STATUSES,
    EXECUTION_STATUSES,
    HTTP_AUTH_MODES,
    ROLES,
    SCRIPT_STATUSES,
    SCRIPT_TYPES,
    TRIGGERS,
)
from portal.services.accounts import MAX_TOKEN_DAYS
from portal.services.inputs import MAX_INT
from portal.services.libraries import MAX_DESCRIPTION as LIBRARY_MAX_DESCRIPTION
from portal.services.libraries import NAME_RE as LIBRARY_NAME_RE
from portal.services.outbox import MAX_TYPE_LENGTH, TYPE_RE
from portal.services.queries import MAX_PAGE
from portal.services.scripts import (
    EVENT_PATTERN_RE,
    HTTP_METHODS,
    MAX_EVENT_PATTERNS,
    MAX_LENGTHS,
    MAX_PREVIEW,
    NAME_RE,
    PATH_RE,
)
from portal.services.secrets import MAX_VALUE_CHARS as SECRET_MAX_VALUE
from portal.services.secrets import NAME_RE as SECRET_NAME_RE

_ID = {"type": "string", "format": "uuid"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_MEMBER_ROLES = [role for role in ROLES if role != "superadmin"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK", headers: dict | None = None) -> dict[str, Any]:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _list_of(name: str) -> dict[str, Any]:
    return _json({"type": "object", "required": ["items"],
                  "properties": {"items": {"type": "array", "items": _ref(name)}}})


def _error(description: str, headers: dict | None = None) -> dict[str, Any]:
    return _json(_ref("Error"), description, headers)


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}}
# Every operation can answer these; the ones with a body add BODY_ERRORS.
_ERRORS = {
    "401": _error("No or invalid credentials", {"WWW-Authenticate": {"schema": {"type": "string"}}}),
    "403": _error("The role lacks the permission"),
    "404": _error("Unknown tenant or resource"),
    "422": _error("Invalid fields or parameters; `fields` maps each to its message"),
}
_BODY_ERRORS = {
    "400": _error("Malformed JSON, NaN/Infinity, or nested too deeply"),
    "409": _error("Conflicts with the current state (e.g. a status change that is not allowed, a concurrent change)"),
    "413": _error("The body is larger than JSR_MAX_BODY_BYTES"),
    "415": _error("The body is not JSON"),
}
_RUN_ERRORS = {"429": _error("Too many runs: the tenant's pending queue is full or the token's run rate is spent",
                             _RETRY_AFTER)}


def _op(summary: str, responses: dict[str, Any], body: str | None = None, parameters: list[dict] | None = None,
        *, conflicts: bool = False, runs: bool = False) -> dict[str, Any]:
    errors = {**_ERRORS, **(_BODY_ERRORS if body else {}), **(_RUN_ERRORS if runs else {})}
    if conflicts:
        errors["409"] = _BODY_ERRORS["409"]
    op: dict[str, Any] = {"summary": summary, "responses": {**responses, **errors}}
    if body:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": _ref(body)}}}
    if parameters:
        op["parameters"] = parameters
    return op


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or _ID}


def _paging(default: int) -> list[dict[str, Any]]:
    return [_query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, f"Page size ({default})"),
            _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_INT}, "Skip this many")]


def _text(max_length: int, **extra) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, **extra}


SCRIPT_ID = _path("script_id")
LIBRARY_ID = _path("library_id")


_DEAD_LETTER_FILTERS = [
    _query("script_id", _ID, "Only this script"), _query("event_type", _text(200), "Only this event type"),
    _query("since", {"type": "string", "format": "date-time"}, "Created at or after"),
    _query("until", {"type": "string", "format": "date-time"}, "Created before")]


def _script_fields() -> dict[str, Any]:
    return {
        "name": _text(100, pattern=NAME_RE.pattern), "description": _text(MAX_LENGTHS["description"]),
        "source": {"type": "string", "minLength": 1, "description": "JavaScript, at most JSR_SOURCE_BYTES (100 KB)"},
        "type": {"enum": list(SCRIPT_TYPES)},
        "cron_expression": {"type": ["string", "null"], "maxLength": MAX_LENGTHS["cron_expression"],
                            "description": "5 fields (scheduled scripts); must fire at some time"},
        "timezone": _text(MAX_LENGTHS["timezone"], description="IANA zone, default UTC"),
        "http_path": {"type": ["string", "null"], "maxLength": MAX_LENGTHS["http_path"],
                      "pattern": PATH_RE.pattern},
        "http_methods": {"type": "array", "items": {"enum": list(HTTP_METHODS)}},
        "http_auth": {"enum": list(HTTP_AUTH_MODES)},
        "event_patterns": {"type": "array", "maxItems": MAX_EVENT_PATTERNS,
                           "items": _text(MAX_LENGTHS["event_pattern"], pattern=EVENT_PATTERN_RE.pattern)},
        **{limit: {"type": ["integer", "null"], "minimum": 1, "description": "Up to the tenant's maximum"}
           for limit in ("timeout_ms", "memory_mb", "host_calls", "concurrency")},
        "change_description": {"type": ["string", "null"], "maxLength": MAX_LENGTHS["change_description"]},
    }


def openapi_document() -> dict[str, Any]:
    script_types, statuses, execution_statuses = list(SCRIPT_TYPES), list(SCRIPT_STATUSES), list(EXECUTION_STATUSES)
    return {
        "openapi": "3.1.0",
        "info": {"title": "JS Runtime Portal API", "version": "1.0.0",
                 "description": "Tenant-scoped scripts, versions and executions. Authenticate with "
                                "`Authorization: Bearer <token>` (`flask --app app jsr create-token`). "
                                "Superadmins name the tenant with `?tenant=<slug>` or `X-Tenant`. Strings must "
                                "not contain NUL or unpaired surrogates; JSON nests at most 64 levels. A method "
                                "a path does not support answers 405 with `Allow`."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/scripts": {
                "get": _op("List scripts by name", {"200": _list_of("Script")}, parameters=[
                    _query("status", {"enum": statuses}, "Only this status"),
                    _query("type", {"enum": script_types}, "Only this type"),
                    _query("q", _text(100), "Name contains"), *_paging(100)]),
                "post": _op("Create a script (version 1, status draft)",
                            {"201": _json(_ref("ScriptWithSource"), "Created")}, body="ScriptCreate"),
            },
            "/scripts/{script_id}": {
                "parameters": [SCRIPT_ID],
                "get": _op("Show a script", {"200": _json(_ref("ScriptWithSource"))}),
                "patch": _op("Change a script; writes the next version", {"200": _json(_ref("ScriptWithSource"))},
                             body="ScriptPatch"),
                "delete": _op("Delete a script with its versions and executions",
                              {"204": {"description": "Deleted"}}),
            },
            "/scripts/{script_id}/status": {
                "parameters": [SCRIPT_ID],
                "post": _op("Activate, pause, disable or archive (disabling cancels pending runs)",
                            {"200": _json(_ref("Script"))}, body="StatusInput"),
            },
            "/scripts/{script_id}/versions": {
                "parameters": [SCRIPT_ID],
                "get": _op("List versions, newest first", {"200": _list_of("Version")}, parameters=_paging(100)),
            },
            "/scripts/{script_id}/versions/{number}": {
                "parameters": [SCRIPT_ID, _path("number", {"type": "integer", "minimum": 1, "maximum": MAX_INT})],
                "get": _op("Show a version with its source", {"200": _json(_ref("VersionWithSource"))}),
            },
            "/scripts/{script_id}/rollback": {
                "parameters": [SCRIPT_ID],
                "post": _op("Restore a version's source as a new version", {"200": _json(_ref("ScriptWithSource"))},
                            body="RollbackInput"),
            },
            "/schedule-preview": {
                "get": _op("The next fire times of a cron expression in a time zone, in UTC (DST rules in the README)",
                           {"200": _json({"type": "object", "required": ["times"], "properties": {
                               "times": {"type": "array", "items": {"type": "string", "format": "date-time"}}}})},
                           parameters=[
                               {**_query("cron", {"type": "string", "maxLength": MAX_LENGTHS["cron_expression"]},
                                         "5 fields, e.g. */5 * * * *"), "required": True},
                               _query("timezone", _text(MAX_LENGTHS["timezone"]), "IANA zone, default UTC"),
                               _query("n", {"type": "integer", "minimum": 1, "maximum": MAX_PREVIEW},
                                      "How many (default 5)")]),
            },
            "/scripts/{script_id}/hook-secret": {
                "parameters": [SCRIPT_ID],
                "post": _op("Generate the webhook secret of an HTTP script (token or HMAC key); shown once, the "
                            "former one stops working (409 for other script types)",
                            {"200": _json({"type": "object", "required": ["secret"], "additionalProperties": False,
                                           "properties": {"secret": {"type": "string"}}})}, conflicts=True),
            },
            "/scripts/{script_id}/run": {
                "parameters": [SCRIPT_ID],
                "post": _op("Run now, synchronously; returns the recorded execution",
                            {"200": _json(_ref("Execution"))}, body="RunInput", runs=True),
            },
            "/scripts/{script_id}/enqueue": {
                "parameters": [SCRIPT_ID],
                "post": _op("Queue a run for the workers; poll the execution it returns (Location header)",
                            {"202": _json(_ref("Execution"), "Queued")}, body="RunInput", runs=True),
            },
            "/scripts/{script_id}/transform": {
                "parameters": [SCRIPT_ID],
                "post": _op("Run the script as a RudderStack transformation over RudderStack's request list",
                            {"200": _json(_ref("TransformOutput"))}, body="TransformInput", runs=True),
            },
            "/transform": {
                "post": _op("Run unsaved code as a RudderStack transformation (test mode by default); nothing is "
                            "stored", {"200": _json(_ref("TransformOutput"))}, body="TransformCodeInput", runs=True),
            },
            "/libraries": {
                "get": _op("List the tenant's libraries by name", {"200": _list_of("Library")},
                           parameters=_paging(100)),
                "post": _op("Create a library (version 1); its imports must resolve among the tenant's libraries",
                            {"201": _json(_ref("LibraryWithSource"), "Created")}, body="LibraryCreate"),
            },
            "/libraries/{library_id}": {
                "parameters": [LIBRARY_ID],
                "get": _op("Show a library", {"200": _json(_ref("LibraryWithSource"))}),
                "patch": _op("Change a library; a new source is the next version",
                             {"200": _json(_ref("LibraryWithSource"))}, body="LibraryPatch"),
                "delete": _op("Delete a library with its versions", {"204": {"description": "Deleted"}}),
            },
            "/libraries/{library_id}/versions": {
                "parameters": [LIBRARY_ID],
                "get": _op("List versions, newest first", {"200": _list_of("Version")}, parameters=_paging(100)),
            },
            "/libraries/{library_id}/versions/{number}": {
                "parameters": [LIBRARY_ID, _path("number", {"type": "integer", "minimum": 1, "maximum": MAX_INT})],
                "get": _op("Show a version with its source", {"200": _json(_ref("VersionWithSource"))}),
            },
            "/secrets": {
                "get": _op("The tenant's secrets by name, never their values (org admins)",
                           {"200": _list_of("Secret")}),
            },
            "/secrets/{name}": {
                "parameters": [_path("name", {"type": "string", "pattern": SECRET_NAME_RE.pattern})],
                "put": _op("Create or replace a secret (audited without its value)", {"200": _json(_ref("Secret"))},
                           body="SecretInput"),
                "delete": _op("Delete a secret", {"204": {"description": "Deleted"}}),
            },
            "/executions": {
                "get": _op("List executions, newest first", {"200": _list_of("ExecutionSummary")}, parameters=[
                    _query("script_id", _ID, "Only this script"),
                    _query("status", {"enum": execution_statuses}, "Only this status"),
                    _query("trigger", {"enum": list(TRIGGERS)}, "Only this trigger"),
                    _query("since", {"type": "string", "format": "date-time"}, "Created at or after"),
                    _query("until", {"type": "string", "format": "date-time"}, "Created before"),
                    *_paging(50)]),
            },
            "/executions/{execution_id}": {
                "parameters": [_path("execution_id")],
                "get": _op("Show an execution with input, output and logs", {"200": _json(_ref("Execution"))}),
            },
            "/executions/{execution_id}/cancel": {
                "parameters": [_path("execution_id")],
                "post": _op("Cancel a pending execution (409 when it is no longer pending)",
                            {"200": _json(_ref("Execution"))}, conflicts=True),
            },
            "/audit": {
                "get": _op("The tenant's audit trail, newest first (org admins)", {"200": _list_of("AuditEvent")},
                           parameters=[
                               _query("target_id", _ID, "Only events about this target"),
                               _query("action", _text(64), "e.g. script.update, script.rollback, auth.failed"),
                               *_paging(50)]),
            },
            "/users": {
                "get": _op("The tenant's users (org admins)", {"200": _list_of("User")}, parameters=_paging(100)),
                "post": _op("Create a user in the tenant", {"201": _json(_ref("User"), "Created")},
                            body="UserCreate"),
            },
            "/users/{user_id}": {
                "parameters": [_path("user_id")],
                "patch": _op("Change a user's role or active flag, or unlock it; role changes and deactivation "
                             "end the user's sessions", {"200": _json(_ref("User"))}, body="UserPatch"),
            },
            "/tokens": {
                "get": _op("The tenant's API tokens, newest first (never their secrets)", {"200": _list_of("Token")},
                           parameters=_paging(100)),
                "post": _op("Create an API token; its secret is in this answer only",
                            {"201": _json(_ref("NewToken"), "Created")}, body="TokenCreate"),
            },
            "/tokens/{token_id}": {
                "parameters": [_path("token_id")],
                "delete": _op("Revoke a token at once", {"200": _json(_ref("Token"))}),
            },
            "/events": {
                "post": _op("Publish an event `{type, payload}` (answers `{id}`) or an array of up to 100 "
                            "(answers `{ids}`); matching event scripts run asynchronously, failed deliveries are "
                            "retried with exponential backoff and then dead-lettered",
                            {"202": _json({"type": "object", "properties": {
                                "id": _ID, "ids": {"type": "array", "items": _ID}}}, "Accepted")},
                            body="EventInput"),
            },
            "/dead-letters": {
                "get": _op("Event deliveries that failed every attempt, newest first", {"200": _list_of("DeadLetter")},
                           parameters=[*_DEAD_LETTER_FILTERS,
                                       _query("status", {"enum": list(DEAD_LETTER_STATUSES)}, "Only this status"),
                                       *_paging(50)]),
            },
            "/dead-letters/replay": {
                "post": _op("Replay up to 100 not yet replayed dead letters the filters select",
                            {"202": _list_of("ExecutionSummary")}, parameters=_DEAD_LETTER_FILTERS, conflicts=True),
            },
            "/dead-letters/{dead_letter_id}/replay": {
                "parameters": [_path("dead_letter_id")],
                "post": _op("Deliver the event again to its script, optionally with an edited payload; the dead "
                            "letter becomes `replayed` and names the new execution (409 when replayed already)",
                            {"202": _json(_ref("Execution"), "Queued")}, body="ReplayInput", conflicts=True),
            },
            "/dead-letters/{dead_letter_id}": {
                "parameters": [_path("dead_letter_id")],
                "delete": _op("Discard a dead letter", {"204": {"description": "Discarded"}}),
            },
            "/openapi.json": {
                "get": {"summary": "This document", "security": [],
                        "responses": {"200": _json({"type": "object"})}},
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "field": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "incident": {"type": "string"},
                    "source_line": {"type": "integer"}, "source_column": {"type": "integer"}}},
                "ScriptCreate": {"type": "object", "required": ["name", "type", "source"],
                                 "properties": _script_fields()},
                "ScriptPatch": {"type": "object", "properties": _script_fields()},
                "Script": {"type": "object", "properties": {
                    "id": _ID, "name": {"type": "string"}, "description": {"type": "string"},
                    "type": {"enum": script_types}, "status": {"enum": statuses}, "version": {"type": "integer"},
                    "cron_expression": {"type": ["string", "null"]}, "timezone": {"type": "string"},
                    "next_run_at": _TIME, "http_path": {"type": ["string", "null"]},
                    "http_methods": {"type": "array", "items": {"type": "string"}},
                    "http_auth": {"type": "string"},
                    "event_patterns": {"type": "array", "items": {"type": "string"}},
                    "limits": {"type": "object"}, "created_at": _TIME, "updated_at": _TIME}},
                "ScriptWithSource": {"allOf": [_ref("Script"), {"type": "object", "properties": {
                    "source": {"type": "string"}}}]},
                "StatusInput": {"type": "object", "required": ["status"], "properties": {"status": {"enum": statuses}}},
                "RollbackInput": {"type": "object", "required": ["version"],
                                  "properties": {"version": {"type": "integer", "minimum": 1, "maximum": MAX_INT}}},
                "RunInput": {"type": "object", "properties": {"input": {"description": "Any JSON value"}}},
                "Version": {"type": "object", "properties": {
                    "version": {"type": "integer"}, "change_description": {"type": "string"},
                    "author_id": {"type": ["string", "null"]}, "created_at": _TIME}},
                "VersionWithSource": {"allOf": [_ref("Version"), {"type": "object", "properties": {
                    "source": {"type": "string"}}}]},
                "ExecutionSummary": {"type": "object", "properties": {
                    "id": _ID, "script_id": _ID, "script_version": {"type": ["integer", "null"]},
                    "status": {"enum": execution_statuses}, "trigger": {"enum": list(TRIGGERS)},
                    "attempt": {"type": "integer"}, "duration_ms": {"type": ["number", "null"]},
                    "memory_bytes": {"type": ["integer", "null"]}, "host_calls": {"type": "integer"},
                    "error": {"type": ["object", "null"], "properties": {
                        "kind": {"type": "string"}, "type": {"type": "string"}, "message": {"type": "string"},
                        "line": {"type": ["integer", "null"]}, "column": {"type": ["integer", "null"]},
                        "stack": {"type": "string"}}},
                    "created_at": _TIME, "started_at": _TIME, "finished_at": _TIME}},
                "AuditEvent": {"type": "object", "properties": {
                    "id": _ID, "action": {"type": "string"}, "user_id": {"type": ["string", "null"]},
                    "target_type": {"type": "string"}, "target_id": {"type": ["string", "null"]},
                    "summary": {"type": "string"}, "details": {"type": "object"}, "created_at": _TIME}},
                "Execution": {"allOf": [_ref("ExecutionSummary"), {"type": "object", "properties": {
                    "input": {}, "output": {},
                    "logs": {"type": "array", "items": {"type": "object", "properties": {
                        "level": {"type": "string"}, "time": {"type": "number"},
                        "message": {"type": "string"}}}},
                    "outbound_calls": {"type": "array", "description": "One entry per host call", "items": {
                        "type": "object", "properties": {
                            "api": {"type": "string"}, "method": {"type": "string"},
                            "target": {"type": ["string", "null"], "description": "HTTP host, collection or event"},
                            "status": {"type": ["integer", "null"]}, "ms": {"type": "number"},
                            "bytes": {"type": "integer"}, "ok": {"type": "boolean"}}}}}}]},
                "User": {"type": "object", "properties": {
                    "id": _ID, "email": {"type": "string"}, "name": {"type": "string"}, "role": {"enum": list(ROLES)},
                    "active": {"type": "boolean"}, "locked_until": _TIME, "created_at": _TIME}},
                "UserCreate": {"type": "object", "required": ["email", "password", "role"], "properties": {
                    "email": _text(254, format="email"), "password": {"type": "string", "minLength": 8,
                                                                       "maxLength": 1024},
                    "role": {"enum": _MEMBER_ROLES}, "name": _text(200)}},
                "UserPatch": {"type": "object", "properties": {
                    "role": {"enum": _MEMBER_ROLES}, "active": {"type": "boolean"},
                    "unlock": {"type": "boolean", "description": "Clear failed sign-ins and any lock"}}},
                "Token": {"type": "object", "properties": {
                    "id": _ID, "name": {"type": "string"}, "prefix": {"type": "string"},
                    "role": {"enum": _MEMBER_ROLES}, "user_id": _ID, "created_at": _TIME, "last_used_at": _TIME,
                    "expires_at": _TIME, "revoked_at": _TIME}},
                "NewToken": {"allOf": [_ref("Token"), {"type": "object", "properties": {
                    "secret": {"type": "string", "description": "Shown once"}}}]},
                "EventInput": {"type": "object", "required": ["type"], "properties": {
                    "type": _text(MAX_TYPE_LENGTH, pattern=TYPE_RE.pattern), "payload": {"description": "Any JSON"}}},
                "ReplayInput": {"type": "object", "properties": {
                    "payload": {"description": "Replaces the dead letter's payload for this replay"}}},
                "DeadLetter": {"type": "object", "properties": {
                    "id": _ID, "script_id": {"type": ["string", "null"]}, "execution_id": {"type": ["string", "null"]},
                    "event_id": {"type": ["string", "null"]}, "event_type": {"type": "string"}, "payload": {},
                    "error": {"type": ["object", "null"]}, "attempts": {"type": "integer"},
                    "status": {"enum": list(DEAD_LETTER_STATUSES)}, "replay_execution_id": {"type": ["string", "null"]},
                    "replayed_at": _TIME, "created_at": _TIME}},
                "TransformInput": {"type": "object", "required": ["events"], "properties": {
                    "events": {"type": "array", "items": _ref("TransformEvent")},
                    "test": {"type": "boolean", "description": "Return log() lines (default false)"}}},
                "TransformCodeInput": {"type": "object", "required": ["code", "events"], "properties": {
                    "code": {"type": "string", "minLength": 1},
                    "events": {"type": "array", "items": _ref("TransformEvent")},
                    "test": {"type": "boolean", "description": "Return log() lines (default true)"}}},
                "TransformEvent": {"type": "object", "required": ["message"], "properties": {
                    "message": {"type": "object"}, "metadata": {"type": "object"}, "destination": {"type": "object"},
                    "credentials": {"type": "array", "items": {"type": "object", "properties": {
                        "key": {"type": "string"}, "value": {}}}}}},
                "TransformOutput": {"type": "object", "required": ["transformedEvents", "logs"], "properties": {
                    "transformedEvents": {"type": "array", "items": {"type": "object", "properties": {
                        "statusCode": {"type": "integer"}, "output": {"type": "object"},
                        "error": {"type": "string"}, "metadata": {"type": "object"}}}},
                    "logs": {"type": "array", "items": {"type": "string"}}}},
                "Library": {"type": "object", "properties": {
                    "id": _ID, "name": {"type": "string"}, "description": {"type": "string"},
                    "version": {"type": "integer"}, "created_at": _TIME, "updated_at": _TIME}},
                "LibraryWithSource": {"allOf": [_ref("Library"), {"type": "object", "properties": {
                    "source": {"type": "string"}}}]},
                "LibraryCreate": {"type": "object", "required": ["name", "source"], "properties": {
                    "name": _text(64, pattern=LIBRARY_NAME_RE.pattern, description="The import specifier"),
                    "source": {"type": "string", "minLength": 1}, "description": _text(LIBRARY_MAX_DESCRIPTION)}},
                "LibraryPatch": {"type": "object", "properties": {
                    "source": {"type": "string", "minLength": 1}, "description": _text(LIBRARY_MAX_DESCRIPTION),
                    "change_description": {"type": ["string", "null"], "maxLength": LIBRARY_MAX_DESCRIPTION}}},
                "Secret": {"type": "object", "properties": {
                    "name": {"type": "string"}, "created_at": _TIME, "updated_at": _TIME}},
                "SecretInput": {"type": "object", "required": ["value"], "properties": {
                    "value": _text(SECRET_MAX_VALUE, minLength=0)}},
                "TokenCreate": {"type": "object", "properties": {
                    "user_id": {**_ID, "description": "Default: the caller"}, "name": _text(100),
                    "role": {"enum": _MEMBER_ROLES, "description": "Default and maximum: the user's role"},
                    "expires_in_days": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_TOKEN_DAYS}}},
            },
        },
    }
