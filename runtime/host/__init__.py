"""Registry of host APIs served by the driver loop between job rounds.

Scripts never call into Python: `ctx.db.insert(...)` queues a JSON request, and the
engine's loop hands it here as a HostCall whose `tenant_id` comes from the run
request on the Python side, never from the script.  Handlers are plain callables
that the portal registers (http, db, cache, events, secrets); they return JSON-safe
values or raise HostError with a message that is safe to show to the script.

A run's calls are served concurrently through a HostSession, and each answer is handed
on the moment its own call completes: a fast call never waits for a slow one.
"""

import json
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

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
# (key the caller gave the call, {ok, value} or {ok: false, error}, milliseconds the call took)
Answer = tuple[int, dict[str, Any], float]


class HostChannel(Protocol):
    """How an engine's driver loop passes one run's calls on and collects their answers as they come."""

    def submit(self, calls: list[tuple[int, HostCall]]) -> None: ...

    def wait(self, timeout: float) -> list[Answer]:
        """The answers ready now, waiting up to `timeout` seconds for the first; [] when none came."""
        ...

    def close(self) -> None: ...


class HostChannels(Protocol):
    """What an engine is given to serve host calls: a HostRegistry here, a runner's link to its parent there."""

    def channel(self) -> HostChannel: ...


class HostRegistry:
    """Maps an API name (`db`, `http`, ...) to its handler.

    Calls are served on at most `max_parallel` threads per process, and at most
    `max_parallel_per_run` of one run's calls at once (the rest wait in the run's own queue,
    so one run's hundred calls never line up ahead of every other run's).
    """

    def __init__(self, max_parallel: int = 8, max_parallel_per_run: int | None = None) -> None:
        self._handlers: dict[str, HostHandler] = {}
        self.max_parallel = max_parallel
        self.max_parallel_per_run = max_parallel_per_run or max_parallel
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._in_flight = 0

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

    def session(self, deliver: Callable[[Answer], None]) -> "HostSession":
        """A run's calls, each answer passed to `deliver` (on a host thread) as soon as it is ready."""
        return HostSession(self, deliver)

    def channel(self) -> "LocalChannel":
        """A run's calls for an engine in this process (unit tests, benchmarks): answers are waited for."""
        return LocalChannel(self)

    @property
    def in_flight(self) -> int:
        """Calls whose handler is running now, in this process."""
        return self._in_flight

    def on_thread(self, serve: Callable[[], None]) -> Future:
        """Run `serve` on one of the registry's threads."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_parallel, thread_name_prefix="jsr-host")
            return self._executor.submit(serve)

    def timed(self, call: HostCall) -> tuple[dict[str, Any], float]:
        """dispatch(call) and the milliseconds it took, counted in `in_flight` meanwhile."""
        with self._lock:
            self._in_flight += 1
        started = time.perf_counter()
        try:
            answer = self.dispatch(call)
        finally:
            with self._lock:
                self._in_flight -= 1
        return answer, (time.perf_counter() - started) * 1000


class HostSession:
    """The host calls of one run: served concurrently, each answer delivered the moment it is ready.

    After `close` (the run ended: its result came, it timed out or its runner died) queued calls
    never start and calls that complete deliver nothing. An answer already being delivered may
    still arrive; keys are never reused by the receiver, so it is recognised as stale there.
    """

    def __init__(self, registry: HostRegistry, deliver: Callable[[Answer], None]) -> None:
        self._registry = registry
        self._deliver = deliver
        self._lock = threading.Lock()
        self._queued: deque[tuple[int, HostCall]] = deque()
        self._running: dict[int, Future] = {}
        self._closed = False

    def submit(self, key: int, call: HostCall) -> None:
        with self._lock:
            if self._closed:
                return
            if len(self._running) >= self._registry.max_parallel_per_run:
                self._queued.append((key, call))
            else:
                self._start(key, call)

    def _start(self, key: int, call: HostCall) -> None:
        """Hand one call to the registry's threads (the session's lock is held)."""
        self._running[key] = self._registry.on_thread(lambda: self._serve(key, call))

    def _serve(self, key: int, call: HostCall) -> None:
        answer, ms = self._registry.timed(call)
        with self._lock:
            self._running.pop(key, None)
            closed = self._closed
            if not closed and self._queued:
                self._start(*self._queued.popleft())
        if closed:
            return
        try:
            self._deliver((key, answer, ms))
        except Exception:  # the run's own thread notices its end; this answer has nowhere to go
            log.debug("host answer %d could not be delivered", key, exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._queued.clear()
            for future in self._running.values():
                future.cancel()  # succeeds for calls still waiting for a thread behind other runs' calls
            self._running.clear()


class LocalChannel:
    """A HostSession whose answers an engine in this process collects (runtime.runner.RemoteHost is
    the same interface over a runner's channel to its parent)."""

    def __init__(self, registry: HostRegistry) -> None:
        self._answers: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        self._session = registry.session(self._answers.put)

    def submit(self, calls: list[tuple[int, HostCall]]) -> None:
        for key, call in calls:
            self._session.submit(key, call)

    def wait(self, timeout: float) -> list[Answer]:
        try:
            answers = [self._answers.get(timeout=timeout) if timeout > 0 else self._answers.get_nowait()]
        except queue.Empty:
            return []
        while not self._answers.empty():
            answers.append(self._answers.get_nowait())
        return answers

    def close(self) -> None:
        self._session.close()
