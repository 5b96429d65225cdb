"""The JavaScript runtime: QuickJS engines, pool, sandbox and host bridge.

Pure Python + QuickJS: nothing here imports Flask or the portal; host services are
injected through runtime.host.HostRegistry.
"""

from runtime.engine import HANDLERS, CompilationCache, Engine, RunRequest, check_syntax
from runtime.errors import ErrorKind, LogEntry, RunResult, RuntimeBusy, RuntimeClosed, ScriptError
from runtime.host import HostCall, HostError, HostRegistry
from runtime.limits import ResourceLimits
from runtime.pool import RuntimePool
from runtime.runner import RunnerSettings

__all__ = [
    "HANDLERS", "CompilationCache", "Engine", "ErrorKind", "HostCall", "HostError", "HostRegistry",
    "LogEntry", "ResourceLimits", "RunRequest", "RunResult", "RuntimeBusy", "RuntimeClosed",
    "RunnerSettings", "RuntimePool", "ScriptError", "check_syntax",
]
