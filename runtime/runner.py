"""A runner process: prepared single-use contexts, one run at a time, host requests forwarded.

The runner is the only kind of process that executes tenant JavaScript. Its parent (the
supervisor in runtime/pool.py) sends it one run at a time and kills it with SIGKILL at
the run's wall-clock deadline, so nothing the engine does wrong (a native loop that never
polls the interrupt, a swallowed interrupt, a crash) can outlive the run.

Messages are JSON in both directions, framed by `multiprocessing.connection.Connection`.
JSON and not pickle: a runner that a QuickJS bug has turned hostile must not be able to
run code in its parent, so the parent only ever parses data from it. A message is a JSON
envelope, then optionally a newline and a payload of JSON text carried as is (a run's
input, a result's output), so a large payload is never escaped into a string and back.

    parent -> runner   {"op": "run", "request": {...}} + input      one run
                       {"op": "check", "source": "..."}             syntax check only
                       {"op": "host", "answers": [[key, answer, ms]]}   each answer as soon as its call completes
    runner -> parent   {"op": "ready", "pid": N}                    once, after the first context is prepared
                       {"op": "host", "calls": [...]}               one round's host requests: key, api, method, args

While calls are outstanding the runner goes on running the script (jobs, timers, new calls,
sent at once); keys are never reused in a runner's life, so an answer that arrives after its
run ended (a run stopped by its deadline or job cap with calls in flight) is recognised and dropped.
                       {"op": "result", "result": {...}, "cached": bool} + output
                       {"op": "checked", "error": {...} | null}
"""

import ctypes
import itertools
import json
import os
import resource
import select
import signal
import time
from dataclasses import dataclass, fields
from multiprocessing.connection import Connection
from typing import Any

from runtime.engine import CompilationCache, Engine, RunRequest, json_too_deep
from runtime.errors import ErrorKind, LogEntry, RunResult, ScriptError
from runtime.host import Answer, HostCall
from runtime.limits import MB, ResourceLimits

_PR_SET_PDEATHSIG = 1
_REQUEST_FIELDS = [field.name for field in fields(RunRequest) if field.name not in ("input", "limits")]


@dataclass(frozen=True)
class RunnerSettings:
    """What every runner of a pool starts with."""

    address_space_bytes: int = 1024 * MB  # besides QuickJS's own heap limit; 0 for none
    stack_bytes: int = ResourceLimits.stack_bytes
    niceness: int = 5  # added to the supervisor's: runs yield the CPU to the processes that watch them
    spin_us: int = 2000  # how long a runner polls for its next run after a run before it sleeps


# -- wire format ---------------------------------------------------------------------------
def encode(message: dict[str, Any], payload: str | None = None) -> bytes:
    envelope = json.dumps(message, separators=(",", ":")).encode()  # ASCII: never a raw newline
    return envelope if payload is None else envelope + b"\n" + payload.encode()


def decode(data: bytes) -> tuple[dict[str, Any], str | None]:
    """(envelope, payload or None); raises ValueError on anything malformed."""
    envelope, newline, payload = data.partition(b"\n")
    message = json.loads(envelope)
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message, payload.decode() if newline else None


def request_to_wire(request: RunRequest) -> tuple[dict[str, Any], str]:
    """The request without its input, and the input as JSON text (json.dumps copies nothing, unlike asdict)."""
    data = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    data["limits"] = vars(request.limits)
    return data, json.dumps(request.input)


def request_from_wire(data: dict[str, Any]) -> RunRequest:
    return RunRequest(**{**data, "limits": ResourceLimits(**data["limits"])})


def result_to_wire(result: RunResult) -> tuple[dict[str, Any], str]:
    """The result without its output, and the output as the engine's JSON text."""
    return {
        "logs": [[entry.level, entry.time, entry.message] for entry in result.logs],
        "error": result.error.to_dict() if result.error else None,
        "duration_ms": result.duration_ms,
        "memory_bytes": result.memory_bytes,
        "host_calls": result.host_calls,
        "host_time_ms": result.host_time_ms,
        "host_call_timings": result.host_call_timings,
    }, result.output_json


def result_from_wire(data: dict[str, Any], output_json: str | None) -> RunResult:
    """Rebuild a result, checking every type: the runner is not trusted to send what it should."""
    if output_json is None:
        raise TypeError("a result carries its output")
    if json_too_deep(output_json):  # the runner's engine refuses these: only a subverted runner sends one
        raise ValueError("the output is nested too deep")
    logs = [LogEntry(str(level), float(time), str(message)) for level, time, message in data["logs"]]
    timings = data["host_call_timings"]
    if not isinstance(timings, list) or not all(isinstance(item, dict) for item in timings):
        raise TypeError("host_call_timings must be a list of objects")
    return RunResult(
        output_json=output_json,
        logs=logs,
        error=error_from_wire(data["error"]),
        duration_ms=float(data["duration_ms"]),
        memory_bytes=int(data["memory_bytes"]),
        host_calls=int(data["host_calls"]),
        host_time_ms=float(data["host_time_ms"]),
        host_call_timings=timings,
    )


def error_from_wire(data: dict[str, Any] | None) -> ScriptError | None:
    if data is None:
        return None
    line, column = data.get("line"), data.get("column")
    return ScriptError(ErrorKind(data["kind"]), str(data["type"]), str(data["message"]),
                       None if line is None else int(line), None if column is None else int(column),
                       str(data.get("stack", "")))


# -- the runner process -------------------------------------------------------------------------
class RemoteHost:
    """Stands in for the HostRegistry inside a runner: calls go to the parent, answers come back one by one.

    Only a key, api, method and args cross: the parent binds the tenant, the run's ids and the
    deadline from its own copy of the request, never from what the runner says.
    """

    def __init__(self, conn: Connection, poller: select.poll) -> None:
        self.conn = conn
        self.poller = poller  # registered for the parent's channel once: Connection.poll builds a selector per call
        self.keys = itertools.count()

    def channel(self) -> "RemoteChannel":
        return RemoteChannel(self)


class RemoteChannel:
    """One run's calls over the runner's channel: the engine's keys are mapped to keys unique in the runner."""

    def __init__(self, remote: RemoteHost) -> None:
        self._remote = remote
        self._keys: dict[int, int] = {}  # wire key -> the engine's key

    def submit(self, calls: list[tuple[int, HostCall]]) -> None:
        wire = []
        for key, call in calls:
            wire_key = next(self._remote.keys)
            self._keys[wire_key] = key
            wire.append({"key": wire_key, "api": call.api, "method": call.method, "args": call.args})
        self._remote.conn.send_bytes(encode({"op": "host", "calls": wire}))

    def wait(self, timeout: float) -> list[Answer]:
        answers: list[Answer] = []
        conn, poller = self._remote.conn, self._remote.poller
        until = time.monotonic() + timeout
        while poller.poll(0 if answers else max(0.0, until - time.monotonic()) * 1000):
            message = decode(conn.recv_bytes())[0]
            if message.get("op") != "host":
                raise ValueError(f"unexpected {message.get('op')!r} during a run")
            for wire_key, answer, ms in message["answers"]:
                key = self._keys.pop(wire_key, None)
                if key is not None:  # else: an answer to a run that has ended
                    answers.append((key, answer, float(ms)))
        return answers

    def close(self) -> None:
        self._keys.clear()


def confine(settings: RunnerSettings) -> None:
    """Limits that hold whatever the engine does: memory, no core files, death with the zygote.

    Runners also run at a lower CPU priority, so scripts spinning on every core cannot
    starve the supervisor that must kill them or the web process serving other requests.
    """
    os.nice(settings.niceness)
    if settings.address_space_bytes > 0:
        limit = settings.address_space_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait_readable(poller: select.poll, spin_seconds: float) -> None:
    """Spin briefly before blocking: waking a halted (virtual) CPU costs far more than a short run."""
    spin_until = time.perf_counter() + spin_seconds
    while not poller.poll(0):
        if time.perf_counter() >= spin_until:
            poller.poll()
            return
        os.sched_yield()


def serve(conn: Connection, settings: RunnerSettings) -> None:
    """The runner's loop: a fresh context is always prepared before the next message is read."""
    confine(settings)
    stack_bytes, spin_seconds = settings.stack_bytes, settings.spin_us / 1_000_000
    cache = CompilationCache()
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    host = RemoteHost(conn, poller)
    engine = Engine(stack_bytes)
    conn.send_bytes(encode({"op": "ready", "pid": os.getpid()}))
    while True:
        wait_readable(poller, spin_seconds)
        try:
            message, payload = decode(conn.recv_bytes())
        except EOFError:
            return  # the supervisor is gone
        op = message.get("op")
        if op == "run":
            request = request_from_wire(message["request"])
            hits = cache.hits
            compiled = cache.compile(request.source, request.limits.source_bytes, request.modules)
            if compiled.error is not None:
                result = RunResult(error=compiled.error)
            else:
                result = engine.run(request, compiled, host, input_json=payload)
            envelope, output_json = result_to_wire(result)
            conn.send_bytes(encode({"op": "result", "result": envelope, "cached": cache.hits > hits}, output_json))
            if engine.spent:  # a used context is never reused: freed here, after the answer
                engine = None
                # The next run likely imports what this one did: its packages are loaded off that run's path.
                engine = Engine(stack_bytes, preload=compiled.preloadable)
        elif op == "check":
            error = cache.compile(message["source"], modules=message.get("modules")).error
            conn.send_bytes(encode({"op": "checked", "error": error.to_dict() if error else None}))
        elif op == "host":
            continue  # answers to calls of a run that has ended
        else:
            return
