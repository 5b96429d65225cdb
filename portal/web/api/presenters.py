"""JSON shapes of the API's resources (documented in openapi.py)."""

from typing import Any


def _time(value) -> str | None:
    return value.isoformat() if value else None


def script_json(script, source: bool = False) -> dict[str, Any]:
    data = {
        "id": script.id, "name": script.name, "description": script.description, "type": script.type,
        "status": script.status, "version": script.current_version,
        "cron_expression": script.cron_expression, "timezone": script.timezone,
        "next_run_at": _time(script.next_run_at), "http_path": script.http_path,
        "http_methods": script.http_methods or [], "http_auth": script.http_auth,
        "event_patterns": script.event_patterns or [],
        "limits": {"timeout_ms": script.timeout_ms, "memory_mb": script.memory_mb,
                   "host_calls": script.host_calls, "concurrency": script.concurrency},
        "created_at": _time(script.created_at), "updated_at": _time(script.updated_at),
    }
    if source:
        data["source"] = script.source
    return data


def version_json(version, source: bool = False) -> dict[str, Any]:
    data = {"version": version.version, "change_description": version.change_description,
            "author_id": version.author_id, "created_at": _time(version.created_at)}
    if source:
        data["source"] = version.source
    return data


def execution_json(execution, detail: bool = True) -> dict[str, Any]:
    data = {
        "id": execution.id, "script_id": execution.script_id, "script_version": execution.script_version,
        "status": execution.status, "trigger": execution.trigger, "attempt": execution.attempt,
        "duration_ms": execution.duration_ms, "memory_bytes": execution.memory_bytes,
        "host_calls": execution.host_calls, "error": execution.error,
        "created_at": _time(execution.created_at), "started_at": _time(execution.started_at),
        "finished_at": _time(execution.finished_at),
    }
    if detail:
        data.update(input=execution.input, output=execution.output, logs=execution.logs or [],
                    outbound_calls=execution.outbound_calls or [])
    return data


def user_json(user) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role, "active": user.active,
            "locked_until": _time(user.locked_until), "created_at": _time(user.created_at)}


def token_json(token, secret: str | None = None) -> dict[str, Any]:
    data = {"id": token.id, "name": token.name, "prefix": token.prefix, "role": token.role,
            "user_id": token.user_id, "created_at": _time(token.created_at),
            "last_used_at": _time(token.last_used_at), "expires_at": _time(token.expires_at),
            "revoked_at": _time(token.revoked_at)}
    if secret is not None:
        data["secret"] = secret  # shown once, at creation
    return data


def audit_json(event) -> dict[str, Any]:
    return {"id": event.id, "action": event.action, "user_id": event.user_id, "target_type": event.target_type,
            "target_id": event.target_id, "summary": event.summary, "details": event.details,
            "created_at": _time(event.created_at)}


def dead_letter_json(letter) -> dict[str, Any]:
    return {"id": letter.id, "script_id": letter.script_id, "execution_id": letter.execution_id,
            "event_id": letter.event_id, "event_type": letter.event_type, "payload": letter.payload,
            "error": letter.error, "attempts": letter.attempts, "status": letter.status,
            "replay_execution_id": letter.replay_execution_id, "replayed_at": _time(letter.replayed_at),
            "created_at": _time(letter.created_at)}


def secret_json(secret) -> dict[str, Any]:
    """A secret's name and times: never its value."""
    return {"name": secret.name, "created_at": _time(secret.created_at), "updated_at": _time(secret.updated_at)}


def library_json(library, source: bool = False) -> dict[str, Any]:
    data = {"id": library.id, "name": library.name, "description": library.description,
            "version": library.current_version, "created_at": _time(library.created_at),
            "updated_at": _time(library.updated_at)}
    if source:
        data["source"] = library.source
    return data
