"""The error taxonomy and the structured result of every run."""

import functools
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    SYNTAX = "syntax"
    RUNTIME = "runtime"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    STACK = "stack_overflow"
    OUTPUT_TOO_LARGE = "output_too_large"
    HOST_CALL_LIMIT = "host_call_limit"
    HOST_FAULT = "host_fault"
    SOURCE_TOO_LARGE = "source_too_large"
    BUSY = "busy"
    INTERNAL = "internal"
    CRASHED = "crashed"  # the runner process died or broke the protocol during the run


@dataclass(frozen=True)
class ScriptError:
    kind: ErrorKind
    type: str
    message: str
    line: int | None = None
    column: int | None = None
    stack: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    def __str__(self) -> str:
        where = f" at {self.line}:{self.column}" if self.line is not None else ""
        return f"{self.type}: {self.message}{where}"


@dataclass(frozen=True)
class LogEntry:
    level: str
    time: float  # epoch milliseconds
    message: str


@dataclass
class RunResult:
    # The handler's result as the JSON text the engine produced; `output` parses it on
    # first use, so callers that only store or forward it never pay for a parse.
    output_json: str = "null"
    logs: list[LogEntry] = field(default_factory=list)
    error: ScriptError | None = None
    duration_ms: float = 0.0
    memory_bytes: int = 0
    host_calls: int = 0
    host_time_ms: float = 0.0
    # Per host call: api, method, target, status, ms, bytes, ok (engine._call_record)
    host_call_timings: list[dict[str, Any]] = field(default_factory=list)

    @functools.cached_property
    def output(self) -> Any:
        return json.loads(self.output_json)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        """The execution status this result maps to."""
        if self.error is None:
            return "completed"
        return "timeout" if self.error.kind is ErrorKind.TIMEOUT else "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "output": self.output,
            "logs": [asdict(entry) for entry in self.logs],
            "error": self.error.to_dict() if self.error else None,
            "duration_ms": round(self.duration_ms, 3),
            "memory_bytes": self.memory_bytes,
            "host_calls": self.host_calls,
            "host_time_ms": round(self.host_time_ms, 3),
            "host_call_timings": self.host_call_timings,
        }


class RuntimeBusy(Exception):
    """No run slot became free in time (global or per-tenant quota)."""


class RuntimeClosed(Exception):
    """The pool is draining for shutdown and accepts no new runs."""
