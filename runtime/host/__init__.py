"""Registry of host APIs served by the driver loop between job rounds.

Scripts never call into Python: `ctx.db.insert(...)` queues a JSON request, and the
engine's loop hands it here as a HostCall whose `tenant_id` comes from the run
request on the Python side, never from the script.  Handlers are plain callables
that the portal registers (http, db, cache, events, secrets); they return JSON-safe
values or raise HostError with a message that is safe to show to the script.
"""

import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostCall:
    tenant_id: str
    api: str
    method: str
    args: list[Any]
    deadline: float  # time.monotonic() by which the run must end
    run: dict[str, Any] = field(default_factory=dict)  # script/execution/user ids of the run

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class HostError(Exception):
    """A failure the script may see and catch: the message must not leak host details."""

    def __init__(self, message: str, name: str = "HostError", status: int | None = None):
        super().__init__(message)
        self.name = name
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "message": str(self)}
        if self.status is not None:
            data["status"] = self.status
        return data


HostHandler = Callable[[HostCall], Any]


class HostRegistry:
    """Maps an API name (`db`, `http`, ...) to its handler."""

    def __init__(self, max_parallel: int = 8) -> None:
        self._handlers: dict[str, HostHandler] = {}
        self.max_parallel = max_parallel
        self._executor: ThreadPoolExecutor | None = None

    def register(self, api: str, handler: HostHandler) -> None:
        self._handlers[api] = handler

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def dispatch(self, call: HostCall) -> dict[str, Any]:
        """Serve one call; the answer is `{ok, value}` or `{ok: false, error}`, never a traceback."""
        handler = self._handlers.get(call.api)
        try:
            if handler is None:
                raise HostError(f"ctx.{call.api} is not available in this runtime")
            value = handler(call)
        except HostError as exc:
            return {"ok": False, "error": exc.to_dict()}
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("host call %s.%s failed for tenant %s (incident %s)",
                          call.api, call.method, call.tenant_id, incident)
            return {"ok": False, "error": {"name": "HostError",
                                           "message": f"host call failed (incident {incident})"}}
        try:
            json.dumps(value, allow_nan=False)  # the answer crosses to the runner as JSON: refuse what cannot
        except (TypeError, ValueError):
            return {"ok": False, "error": {"name": "HostError",
                                           "message": "host call returned a value that is not JSON"}}
        return {"ok": True, "value": value}

    def dispatch_batch(self, calls: list[HostCall]) -> list[tuple[dict[str, Any], float]]:
        """Serve one round's calls, concurrently when there are several (`Promise.all` of fetches).

        Each answer comes with the milliseconds its own call took.
        """
        if len(calls) <= 1:
            return [self._timed(call) for call in calls]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.max_parallel, thread_name_prefix="jsr-host")
        return list(self._executor.map(self._timed, calls))

    def _timed(self, call: HostCall) -> tuple[dict[str, Any], float]:
        started = time.perf_counter()
        answer = self.dispatch(call)
        return answer, (time.perf_counter() - started) * 1000
