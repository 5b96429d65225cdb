"""RudderStack transformation mode: RudderStack's request list in, its response rows out.

Input: `[{message, metadata, destination, credentials}]`, as rudder-transformer receives it.
Output: `{transformedEvents: [row...], logs: [...]}` with rows `{statusCode: 200, output,
metadata}` or `{statusCode: 400, error, metadata}`. The per-event and per-batch rules run in
the context (runtime/sandbox/transform.js); a failure of the whole call (syntax, missing
import, time-out, memory) makes every event a 400 row with that error. `log(...)` lines are
kept only in test mode, apart from console output.
"""

from typing import Any

from runtime.engine import TRANSFORM_HANDLER, RunRequest
from runtime.errors import RunResult
from runtime.limits import MB, ResourceLimits

LIMITS = ResourceLimits(timeout_ms=4_000, memory_bytes=128 * MB)  # RudderStack's defaults
LOG_LEVEL = "rudderstack"  # the level log() entries carry, telling them from console output


class TransformInputError(ValueError):
    """The request list is not RudderStack's shape; the message says what is wrong."""


def check_events(events: Any) -> list[dict[str, Any]]:
    if not isinstance(events, list):
        raise TransformInputError("events must be a list of {message, metadata, destination, credentials}")
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("message"), dict):
            raise TransformInputError(f"events[{index}] must be an object with a `message` object")
        if not isinstance(event.get("metadata", {}), dict):
            raise TransformInputError(f"events[{index}].metadata must be an object")
    return events


def credentials_of(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """getCredential's map from the first event's `credentials` list, None when the request has none."""
    listed = events[0].get("credentials") if events else None
    if not isinstance(listed, list):
        return None
    return {str(item["key"]): item.get("value") for item in listed if isinstance(item, dict) and "key" in item}


def request_for(source: str, tenant_id: str, events: list[dict[str, Any]], *, test_mode: bool = False,
                credentials: dict[str, Any] | None = None, limits: ResourceLimits = LIMITS,
                modules: dict[str, str] | None = None, context: dict[str, Any] | None = None) -> RunRequest:
    """The run of a transformation over RudderStack's request list (events checked by check_events).

    `credentials` are what getCredential reads when the request carries none (the tenant's secrets).
    """
    metadata = {}
    for event in events:
        message_id = event["message"].get("messageId")
        if isinstance(message_id, str | int) and not isinstance(message_id, bool):
            metadata[str(message_id)] = event.get("metadata") or {}
    return RunRequest(
        source=source, tenant_id=tenant_id, handler=TRANSFORM_HANDLER,
        input={"events": [event["message"] for event in events], "metadata": metadata},
        context={**(context or {}), "trigger": {"type": "transform", "test": test_mode}},
        credentials=credentials_of(events) or credentials or {},
        limits=limits, modules=modules or {}, log_mode="test" if test_mode else "drop",
    )


def response_from(events: list[dict[str, Any]], result: RunResult) -> dict[str, Any]:
    """RudderStack's response for `events` from the run's result."""
    logs = [entry.message for entry in result.logs if entry.level == LOG_LEVEL]
    if result.error is not None:
        error = f"{result.error.type}: {result.error.message}"
        rows = [{"statusCode": 400, "error": error, "metadata": event.get("metadata") or {}} for event in events]
        return {"transformedEvents": rows, "logs": logs}
    rows = []
    for row in result.output:
        if "error" in row:
            rows.append({"statusCode": 400, "error": row["error"], "metadata": row["metadata"]})
        else:
            rows.append({"statusCode": 200, "output": row["transformedEvent"], "metadata": row["metadata"]})
    return {"transformedEvents": rows, "logs": logs}
