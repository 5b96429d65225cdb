"""The OpenAPI 3.1 document of /api/v1; tests check it lists exactly the implemented routes."""

from typing import Any

from portal.models import EXECUTION_STATUSES, HTTP_AUTH_MODES, SCRIPT_STATUSES, SCRIPT_TYPES
from portal.services.scripts import HTTP_METHODS

_ID = {"type": "string", "format": "uuid"}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list_of(name: str) -> dict[str, Any]:
    return _json({"type": "object", "properties": {"items": {"type": "array", "items": _ref(name)}}})


_ERRORS = {
    "400": _json(_ref("Error"), "Malformed request (e.g. invalid JSON)"),
    "401": _json(_ref("Error"), "No or invalid credentials"),
    "403": _json(_ref("Error"), "The role lacks the permission"),
    "404": _json(_ref("Error"), "Unknown tenant or resource"),
    "409": _json(_ref("Error"), "Conflict"),
    "422": _json(_ref("Error"), "Invalid fields; `fields` maps each to its message"),
}


def _op(summary: str, responses: dict[str, Any], body: str | None = None,
        parameters: list[dict] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**responses, **_ERRORS}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    if parameters:
        op["parameters"] = parameters
    return op


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


SCRIPT_ID = _path("script_id")


def openapi_document() -> dict[str, Any]:
    script_types, statuses, execution_statuses = list(SCRIPT_TYPES), list(SCRIPT_STATUSES), list(EXECUTION_STATUSES)
    return {
        "openapi": "3.1.0",
        "info": {"title": "JS Runtime Portal API", "version": "1.0.0",
                 "description": "Tenant-scoped scripts, versions and executions. Authenticate with "
                                "`Authorization: Bearer <token>` (`flask --app app jsr create-token`). "
                                "Superadmins name the tenant with `?tenant=<slug>` or `X-Tenant`."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/scripts": {
                "get": _op("List scripts", {"200": _list_of("Script")}, parameters=[
                    _query("status", {"enum": statuses}, "Only this status"),
                    _query("type", {"enum": script_types}, "Only this type"),
                    _query("q", {"type": "string"}, "Name contains")]),
                "post": _op("Create a script (version 1, status draft)",
                            {"201": _json(_ref("ScriptWithSource"), "Created")}, body="ScriptInput"),
            },
            "/scripts/{script_id}": {
                "parameters": [SCRIPT_ID],
                "get": _op("Show a script", {"200": _json(_ref("ScriptWithSource"))}),
                "patch": _op("Change a script; writes the next version", {"200": _json(_ref("ScriptWithSource"))},
                             body="ScriptInput"),
                "delete": _op("Delete a script with its versions and executions",
                              {"204": {"description": "Deleted"}}),
            },
            "/scripts/{script_id}/status": {
                "parameters": [SCRIPT_ID],
                "post": _op("Activate, pause, disable or archive", {"200": _json(_ref("Script"))},
                            body="StatusInput"),
            },
            "/scripts/{script_id}/versions": {
                "parameters": [SCRIPT_ID],
                "get": _op("List versions, newest first", {"200": _list_of("Version")}),
            },
            "/scripts/{script_id}/versions/{number}": {
                "parameters": [SCRIPT_ID, _path("number", {"type": "integer", "minimum": 1})],
                "get": _op("Show a version with its source", {"200": _json(_ref("VersionWithSource"))}),
            },
            "/scripts/{script_id}/rollback": {
                "parameters": [SCRIPT_ID],
                "post": _op("Restore a version's source as a new version", {"200": _json(_ref("ScriptWithSource"))},
                            body="RollbackInput"),
            },
            "/scripts/{script_id}/run": {
                "parameters": [SCRIPT_ID],
                "post": _op("Run now, synchronously; returns the recorded execution",
                            {"200": _json(_ref("Execution"))}, body="RunInput"),
            },
            "/scripts/{script_id}/enqueue": {
                "parameters": [SCRIPT_ID],
                "post": _op("Queue a run for the workers; poll the execution it returns (Location header)",
                            {"202": _json(_ref("Execution"), "Queued")}, body="RunInput"),
            },
            "/executions": {
                "get": _op("List executions, newest first", {"200": _list_of("ExecutionSummary")}, parameters=[
                    _query("script_id", {"type": "string"}, "Only this script"),
                    _query("status", {"enum": execution_statuses}, "Only this status"),
                    _query("trigger", {"type": "string"}, "Only this trigger"),
                    _query("since", {"type": "string", "format": "date-time"}, "Created at or after"),
                    _query("until", {"type": "string", "format": "date-time"}, "Created before"),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (50)"),
                    _query("offset", {"type": "integer", "minimum": 0}, "Skip this many")]),
            },
            "/executions/{execution_id}": {
                "parameters": [_path("execution_id")],
                "get": _op("Show an execution with input, output and logs", {"200": _json(_ref("Execution"))}),
            },
            "/executions/{execution_id}/cancel": {
                "parameters": [_path("execution_id")],
                "post": _op("Cancel a pending execution", {"200": _json(_ref("Execution"))}),
            },
            "/audit": {
                "get": _op("The tenant's audit trail, newest first (org admins)", {"200": _list_of("AuditEvent")},
                           parameters=[
                               _query("target_id", {"type": "string"}, "Only events about this target"),
                               _query("action", {"type": "string"}, "e.g. script.update, script.rollback"),
                               _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (50)"),
                               _query("offset", {"type": "integer", "minimum": 0}, "Skip this many")]),
            },
            "/openapi.json": {
                "get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OK"}}},
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {
                    "error": {"type": "string"}, "field": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "source_line": {"type": "integer"}, "source_column": {"type": "integer"}}},
                "ScriptInput": {"type": "object", "properties": {
                    "name": {"type": "string", "maxLength": 100}, "description": {"type": "string"},
                    "source": {"type": "string", "description": "JavaScript, at most 100 KB"},
                    "type": {"enum": script_types},
                    "cron_expression": {"type": ["string", "null"], "description": "5 fields (scheduled)"},
                    "timezone": {"type": "string", "description": "IANA zone, default UTC"},
                    "http_path": {"type": ["string", "null"]},
                    "http_methods": {"type": "array", "items": {"enum": list(HTTP_METHODS)}},
                    "http_auth": {"enum": list(HTTP_AUTH_MODES)},
                    "event_patterns": {"type": "array", "items": {"type": "string"}},
                    "timeout_ms": {"type": ["integer", "null"]}, "memory_mb": {"type": ["integer", "null"]},
                    "host_calls": {"type": ["integer", "null"]}, "concurrency": {"type": ["integer", "null"]},
                    "change_description": {"type": "string"}}},
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
                                  "properties": {"version": {"type": "integer", "minimum": 1}}},
                "RunInput": {"type": "object", "properties": {"input": {"description": "Any JSON value"}}},
                "Version": {"type": "object", "properties": {
                    "version": {"type": "integer"}, "change_description": {"type": "string"},
                    "author_id": {"type": ["string", "null"]}, "created_at": _TIME}},
                "VersionWithSource": {"allOf": [_ref("Version"), {"type": "object", "properties": {
                    "source": {"type": "string"}}}]},
                "ExecutionSummary": {"type": "object", "properties": {
                    "id": _ID, "script_id": _ID, "script_version": {"type": ["integer", "null"]},
                    "status": {"enum": execution_statuses}, "trigger": {"type": "string"},
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
                        "message": {"type": "string"}}}}}}]},
            },
        },
    }
