"""A runner process: prepared single-use contexts, one run at a time, host requests forwarded.

The runner is the only kind of process that executes tenant JavaScript. Its parent (the
supervisor in runtime/pool.py) sends it one run at a time and kills it with SIGKILL at
the run's wall-clock deadline, so nothing the engine does wrong (a native loop that never
polls the interrupt, a swallowed interrupt, a crash) can outlive the run.

Messages are JSON in both directions, framed by `multiprocessing.connection.Connection`.
JSON and not pickle: a runner that a QuickJS bug has turned hostile must not be able to
run code in its parent, so the parent only ever parses data from it.

    parent -> runner   {"op": "run", "request": {...}}      one run
                       {"op": "check", "source": "..."}     syntax check only
                       {"op": "host", "answers": [...]}     answers to the runner's last "host"
    runner -> parent   {"op": "ready", "pid": N}            once, after the first context is prepared
                       {"op": "host", "calls": [...]}       one round's host requests: api, method, args
                       {"op": "result", "result": {...}, "cached": bool}
                       {"op": "checked", "error": {...} | null}
"""

import ctypes
import json
import os
import resource
import select
import signal
import time
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from runtime.engine import CompilationCache, Engine, RunRequest
from runtime.errors import ErrorKind, LogEntry, RunResult, ScriptError
from runtime.host import HostCall
from runtime.limits import ResourceLimits

_PR_SET_PDEATHSIG = 1
RUNNER_NICENESS = 10


# -- wire format ---------------------------------------------------------------------------
def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def request_to_wire(request: RunRequest) -> dict[str, Any]:
    return asdict(request)


def request_from_wire(data: dict[str, Any]) -> RunRequest:
    return RunRequest(**{**data, "limits": ResourceLimits(**data["limits"])})


def result_to_wire(result: RunResult) -> dict[str, Any]:
    return {
        "output_json": result.output_json,
        "logs": [[entry.level, entry.time, entry.message] for entry in result.logs],
        "error": result.error.to_dict() if result.error else None,
        "duration_ms": result.duration_ms,
        "memory_bytes": result.memory_bytes,
        "host_calls": result.host_calls,
        "host_time_ms": result.host_time_ms,
        "host_call_timings": result.host_call_timings,
    }


def result_from_wire(data: dict[str, Any]) -> RunResult:
    """Rebuild a result, checking every type: the runner is not trusted to send what it should."""
    output_json = data["output_json"]
    if not isinstance(output_json, str):
        raise TypeError("output_json must be a string")
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
    """Stands in for the HostRegistry inside a runner: each round's requests go to the parent.

    Only api, method and args cross: the parent binds the tenant, the run's ids and the
    deadline from its own copy of the request, never from what the runner says.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def dispatch_batch(self, calls: list[HostCall]) -> list[tuple[dict[str, Any], float]]:
        self.conn.send_bytes(encode({"op": "host", "calls": [
            {"api": call.api, "method": call.method, "args": call.args} for call in calls]}))
        answers = decode(self.conn.recv_bytes())["answers"]
        return [(answer, float(ms)) for answer, ms in answers]


def confine(address_space_bytes: int) -> None:
    """Limits that hold whatever the engine does: memory, no core files, death with the zygote.

    Runners also run at a lower CPU priority, so scripts spinning on every core cannot
    starve the supervisor that must kill them or the web process serving other requests.
    """
    os.nice(RUNNER_NICENESS)
    if address_space_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (address_space_bytes, address_space_bytes))
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


def serve(conn: Connection, address_space_bytes: int, stack_bytes: int, spin_seconds: float) -> None:
    """The runner's loop: a fresh context is always prepared before the next message is read."""
    confine(address_space_bytes)
    cache = CompilationCache()
    host = RemoteHost(conn)
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    engine = Engine(stack_bytes)
    conn.send_bytes(encode({"op": "ready", "pid": os.getpid()}))
    while True:
        wait_readable(poller, spin_seconds)
        try:
            message = decode(conn.recv_bytes())
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
                result = engine.run(request, compiled, host)
            conn.send_bytes(encode({"op": "result", "result": result_to_wire(result), "cached": cache.hits > hits}))
            if engine.spent:  # a used context is never reused: freed here, after the answer
                engine = None
                # The next run likely imports what this one did: its packages are loaded off that run's path.
                engine = Engine(stack_bytes, preload=compiled.packages)
        elif op == "check":
            error = cache.compile(message["source"], modules=message.get("modules")).error
            conn.send_bytes(encode({"op": "checked", "error": error.to_dict() if error else None}))
        else:
            return
