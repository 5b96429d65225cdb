"""One QuickJS context serving one run, and the driver loop around it.

The binding refuses calls from JS into Python while a time limit is set, so there
are none: the prelude (sandbox/prelude.js) queues host requests as JSON, and this
loop serves them between job rounds, outside any JS call, then resumes the script
under a fresh time limit bounded by the run's wall-clock deadline.
"""

import functools
import hashlib
import itertools
import json
import os
import re
import string
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import quickjs

from runtime import modules as es_modules
from runtime import packages
from runtime.errors import ErrorKind, LogEntry, RunResult, ScriptError
from runtime.host import Answer, HostCall, HostChannel, HostChannels
from runtime.limits import JSON_MAX_DEPTH, ResourceLimits

HANDLERS = ("main", "handler", "onEvent", "transformEvent", "transformBatch")
TRANSFORM_HANDLER = "rudderstack"  # RudderStack transformation mode (runtime/transform.py)
PRELUDE_FRAME = "__jsr$"
SANDBOX = Path(__file__).parent / "sandbox"
# Evaluated right after the script, in its context: yields the handler as the script's top level
# binds it (function, const or let are all visible to a later script of the same context). In
# transformation mode it yields the wrapper around the script's transformEvent/transformBatch.
_HANDLER_LOOKUP = {name: f"typeof {name} === 'function' ? {name} : null" for name in HANDLERS}
_HANDLER_LOOKUP[TRANSFORM_HANDLER] = (SANDBOX / "transform.js").read_text()
WEB_UNIT = "<web>"
CRYPTO_UNIT = "<web:crypto>"  # needs 32 bytes of entropy injected by Engine._prepare
INTL_UNIT = "<web:intl>"
# The web globals' files, each unit evaluated only before code that names one of its globals
# (Intl: also dayjs's timezone plugin, which names it); zones.js is made at set-up (runtime/zonetable.py).
WEB_UNITS = {WEB_UNIT: ((SANDBOX / "web.js",), ("TextEncoder", "TextDecoder", "structuredClone")),
             "<web:url>": ((SANDBOX / "url.js",), ("URL", "URLSearchParams")),
             CRYPTO_UNIT: ((SANDBOX / "crypto.js",), ("crypto",)),
             INTL_UNIT: ((packages.DIRECTORY / "zones.js", SANDBOX / "intl.js"), ("Intl",))}
# A name counts where it is a whole identifier (`pageURL` or `cryptoKey` do not load a file).
_WEB_NAMES = {unit: re.compile(r"(?<![\w$])(?:" + "|".join(names) + r")(?![\w$])")
              for unit, (_, names) in WEB_UNITS.items()}
LOG_MODES = ("console", "test", "drop")  # what log() does: console.log, RudderStack's test-mode lines, nothing
SCRIPT_FILE = "script.js"
_FRAME = re.compile(r"^\s*at (?:(?P<fn>[^\s(]+) \()?(?P<file><input>|native|<lib:[^>]*>)"
                    r"(?::(?P<line>\d+):(?P<col>\d+))?\)?")
_DRIVER_METHODS = ("setup", "start", "poll", "deliver", "nextTimerAt", "fireTimers", "finish")
_RESULT_OK_PREFIX = '{"ok":true,"value":'
_ARGS_NOT_AN_ARRAY = {"ok": False,
                      "error": {"name": "TypeError", "message": "host call arguments must be a JSON array"}}
ERROR_TEXT_MAX = 8192  # characters of an error's message and of its stack, like a log line
_CLOCK_SLACK_S = 0.005  # clock() and process_time() read the same CPU clock at slightly different moments
FINISH_BUDGET_S = 0.5  # reading the outcome runs no script code, but no call into JS goes without a limit


if not hasattr(quickjs.Context, "eval_bytecode"):
    raise ImportError("this quickjs lacks Context.compile/eval_bytecode: build it with `make setup` "
                      "(runtime/engine_build/, README \"Engine build\")")


@functools.cache
def prelude_source() -> str:
    return (SANDBOX / "prelude.js").read_text()


@functools.cache
def prelude_bytecode() -> bytes:
    """The prelude compiled once per process: compiling it was most of the cost of a new context."""
    return _compiler().compile(prelude_source())


@functools.cache
def _handler_lookup_bytecode(handler: str) -> bytes:
    return _compiler().compile(_HANDLER_LOOKUP[handler])


def _compiler() -> quickjs.Context:
    """A throwaway context to compile in; bytecode runs in any context of this binary.

    Bytecode is only ever produced here, from source text, and kept in memory: loading it
    (JS_ReadObject) is unsafe on crafted bytes, so it is never read from a user, a file or a peer.
    """
    context = quickjs.Context()
    context.set_memory_limit(ResourceLimits.memory_bytes)
    context.set_max_stack_size(ResourceLimits.stack_bytes)
    return context


@dataclass(frozen=True)
class RunRequest:
    """Everything one run needs; `tenant_id` is what host handlers act for."""

    source: str
    tenant_id: str
    handler: str = "main"
    input: Any = None
    context: dict[str, Any] = field(default_factory=dict)  # exposed as ctx.* (ids, trigger)
    credentials: dict[str, Any] = field(default_factory=dict)  # getCredential(name)
    metadata: list[Any] = field(default_factory=list)  # metadata(event) in transformation mode
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    modules: dict[str, str] = field(default_factory=dict)  # importable modules: specifier -> source
    log_mode: str = "console"  # one of LOG_MODES


@dataclass(frozen=True)
class CompiledScript:
    """A source compiled once: the bytecode every run evaluates, or the error to report."""

    source: str
    error: ScriptError | None
    bytecode: bytes | None = None
    modules: tuple[tuple[str, bytes], ...] = ()  # the imported modules (name, bytecode), evaluated first in order

    @property
    def preloadable(self) -> tuple[str, ...]:
        """The curated packages it imports (directly or not) and the web units it loads, but crypto's,
        which takes entropy injected for its own run: what a context may evaluate before its run."""
        return tuple(name for name, _ in self.modules if name in packages.PACKAGES or
                     (name in WEB_UNITS and name != CRYPTO_UNIT))


class CompilationCache:
    """LRU of compiled sources keyed by a hash of the text, bounded in entries and in bytes.

    A context serves one run, so a script is evaluated in a new context every time: keeping
    its bytecode means it is parsed once per process, not on every run, and a broken one
    fails before any context is taken. The handler lookup runs as its own compiled snippet,
    so the source alone determines the bytecode. Bytecode is ~2x the source's size.
    """

    def __init__(self, capacity: int = 1000, max_total_bytes: int = 64 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.max_total_bytes = max_total_bytes
        self.total_bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[bytes, CompiledScript] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, source: str, max_bytes: int | None = None,
                modules: dict[str, str] | None = None) -> CompiledScript:
        """The checked source; one larger than `max_bytes` is refused before any parse (and not cached).

        The modules it may import are part of the key: a new library version compiles anew.
        """
        too_large = source_size_error(source, max_bytes)
        if too_large is not None:
            return CompiledScript(source, too_large)
        data = source.encode("utf-8", "surrogatepass")
        if modules:
            data += b"\0" + json.dumps(sorted(modules.items())).encode("utf-8", "surrogatepass")
        key = hashlib.blake2b(data, digest_size=16).digest()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry
            self.misses += 1
        entry = compile_script(source, modules)
        with self._lock:
            if key not in self._entries:
                self._entries[key] = entry
                self.total_bytes += _entry_bytes(entry)
            while len(self._entries) > self.capacity or self.total_bytes > self.max_total_bytes:
                self.total_bytes -= _entry_bytes(self._entries.popitem(last=False)[1])
        return entry

    def __len__(self) -> int:
        return len(self._entries)


def source_size_error(source: str, max_bytes: int | None) -> ScriptError | None:
    """The error for a source above `max_bytes` in UTF-8; checked before any parse."""
    if max_bytes is None:
        return None
    size = len(source) if source.isascii() else len(source.encode("utf-8", "surrogatepass"))
    if size <= max_bytes:
        return None
    return ScriptError(ErrorKind.SOURCE_TOO_LARGE, "SourceTooLarge",
                       f"the script is {size} bytes; the limit is {max_bytes}")


def _entry_bytes(entry: CompiledScript) -> int:
    return len(entry.source) + len(entry.bytecode or b"") + sum(len(code) for _, code in entry.modules)


def compile_script(source: str, modules: dict[str, str] | None = None) -> CompiledScript:
    """Compile `source` to bytecode without running any of it; a syntax error carries line and column.

    A script with import/export statements is linked first (runtime/modules.py): its imports
    resolve among `modules`, and a syntax error's position is mapped back to the user's text.
    A parse too deep for the stack or too big for memory is reported with that kind.
    """
    linked = None
    text = source
    if es_modules.may_be_module(source):
        linked = es_modules.link(source, {**(modules or {}), **packages.sources()}, HANDLERS)
        if linked.error is not None:
            return CompiledScript(source, linked.error)
        text = linked.units[-1].text
    module_code = []
    for unit in linked.units[:-1] if linked is not None else ():
        try:
            module_code.append((unit.name, _module_bytecode(unit.text, unit.filename)))
        except quickjs.JSException as exc:
            error = error_from_text(str(exc), ErrorKind.SYNTAX)
            return CompiledScript(source, ScriptError(
                ErrorKind.SYNTAX, error.type, f"in module '{unit.name}': {error.message}"
                f"{f' at {error.line}:{error.column}' if error.line is not None else ''}"))
    texts = [source, *(unit.text for unit in linked.units)] if linked is not None else [source]
    named = [unit for unit, pattern in _WEB_NAMES.items() if any(pattern.search(text) for text in texts)]
    module_code[:0] = [(unit, web_unit_bytecode(unit)) for unit in named]
    try:
        bytecode = _compiler().compile(text)
    except quickjs.JSException as exc:
        error = error_from_text(str(exc), ErrorKind.SYNTAX)
        if linked is not None and error.line is not None:
            line, column = linked.script.original_position(error.line, error.column or 1)
            error = ScriptError(error.kind, error.type, error.message, line, column, error.stack)
        return CompiledScript(source, error)
    refused = _using_declaration(source, modules)
    return CompiledScript(source, refused, None if refused else bytecode, () if refused else tuple(module_code))


@functools.lru_cache(maxsize=128)
def _module_bytecode(text: str, filename: str) -> bytes:
    """A linked module compiled once per process, whichever scripts import it (lodash: ~70 KB of source)."""
    return _compiler().compile(text, filename)


def package_bytecode(name: str) -> bytes:
    """A curated package's unit, as the linker makes it, compiled once per process."""
    unit = es_modules.module_unit(name, packages.sources()[name])
    return _module_bytecode(unit.text, unit.filename)


def web_unit_bytecode(unit: str) -> bytes:
    """A web globals' unit (WEB_UNITS), compiled once per process."""
    files = WEB_UNITS[unit][0]
    for path in files:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `make setup`")
    return _module_bytecode("\n".join(path.read_text() for path in files), unit)


def preload_bytecode(name: str) -> bytes:
    """What a prepared context evaluates for `name`, a curated package or a web unit."""
    return web_unit_bytecode(name) if name in WEB_UNITS else package_bytecode(name)


def check_syntax(source: str, modules: dict[str, str] | None = None) -> ScriptError | None:
    """The error compiling `source` (and linking its imports among `modules`) reports, if any; nothing runs."""
    return compile_script(source, modules).error


def _using_declaration(source: str, modules: dict[str, str] | None = None) -> ScriptError | None:
    """Refuse `using` / `await using` declarations: QuickJS lets an interrupt escape from their disposers.

    `using` is only contextually reserved, so QuickJS itself tells the declaration from the
    identifier: every occurrence of the letters "using" is renamed to a same-length word that
    occurs nowhere in the (valid) source. The renaming is one-to-one, so identifiers, labels,
    properties, strings, comments and regexps stay valid; only a declaration turns into two
    adjacent identifiers (`zqxwv name = ...`), whose error points just after its keyword.
    """
    if "using" not in source:
        return None
    # "z" + 4 letters is never a keyword, and 26**4 words outnumber the substrings of any source allowed to run.
    words = ("z" + "".join(letters) for letters in itertools.product(string.ascii_lowercase, repeat=4))
    fresh = next(word for word in words if word not in source)
    error = compile_script(source.replace("using", fresh), modules).error
    if error is None:
        return None
    offset = _offset(source, error.line or 1, error.column or 1)
    start = source.rfind("using", 0, offset)
    line = source.count("\n", 0, start) + 1
    column = start - source.rfind("\n", 0, start)
    return ScriptError(ErrorKind.SYNTAX, "SyntaxError",
                       "`using` declarations are not supported (their disposers can outlive the time limit)",
                       line, column)


def _offset(source: str, line: int, column: int) -> int:
    """The index in `source` of a 1-based line and column."""
    start = 0
    for _ in range(line - 1):
        start = source.index("\n", start) + 1
    return start + column - 1


def error_from_text(text: str, kind: ErrorKind, stack: str | None = None) -> ScriptError:
    """Build a ScriptError from QuickJS's 'Name: message\\n    at ...' text."""
    head, _, rest = text.partition("\n")
    name, sep, message = head.partition(": ")
    if not sep:
        name, message = "Error", head
    frames = _user_frames(stack if stack is not None else rest)
    line = column = None
    for frame in frames:
        match = _FRAME.match(frame)
        if match and match.group("line"):
            line, column = int(match.group("line")), int(match.group("col"))
            break
    stack_text = "\n".join(frames).replace("<input>", SCRIPT_FILE)
    return ScriptError(_refine_kind(kind, name, message), _clean_text(_cap(name, 200)),
                       _clean_text(_cap(message, ERROR_TEXT_MAX)), line, column,
                       _clean_text(_cap(stack_text, ERROR_TEXT_MAX)))


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# JSON.stringify writes NUL and lone surrogates as escapes; an even run of backslashes before one is a
# literal backslash. A well-formed pair never comes escaped from QuickJS, but is kept if it does.
_UNSTORABLE_ESCAPE = re.compile(r"(\\+)u(0000|d[89ab][0-9a-f]{2}(?:\\ud[c-f][0-9a-f]{2})?|d[c-f][0-9a-f]{2})",
                                re.IGNORECASE)


def _clean_text(text: str) -> str:
    """NUL and lone surrogates (which PostgreSQL text and JSONB refuse) become U+FFFD."""
    return text if text.isascii() and "\x00" not in text else _UNSTORABLE.sub("\ufffd", text)


def _clean_json(text: str) -> str:
    """_clean_text for JSON text, on its escapes; text without any \\u escape is returned after one scan."""
    if "\\u" not in text:
        return text
    return _UNSTORABLE_ESCAPE.sub(_replace_escape, text)


def _replace_escape(match: re.Match) -> str:
    backslashes, code = match.group(1), match.group(2)
    if len(backslashes) % 2 == 0 or len(code) > 4:
        return match.group(0)  # an escaped backslash followed by text, or a well-formed pair
    return backslashes + "ufffd"


def _user_frames(stack: str) -> list[str]:
    """Stack lines without the prelude's frames and the native calls it made.

    A native frame (`apply`, `construct`, `Promise`) belongs to whoever called it: the
    nearest outer frame that is not native, the driver itself when there is none.
    """
    frames = []
    natives: list[str] = []
    for raw in stack.splitlines():
        match = _FRAME.match(raw)
        if not match:
            continue
        if match.group("file") == "native":
            natives.append(raw.strip())
        elif (match.group("fn") or "").startswith(PRELUDE_FRAME):
            natives.clear()
        else:
            frames += natives
            natives.clear()
            frames.append(raw.strip())
    return frames


def _refine_kind(kind: ErrorKind, name: str, message: str) -> ErrorKind:
    """Memory and stack exhaustion are still read from the error text: the binding gives no other signal.

    Timeouts and host faults are not: the driver and the prelude know those for themselves.
    """
    if name == "InternalError" and ("out of memory" in message or not message):
        return ErrorKind.MEMORY  # no message: the heap was too full to set even that on the error
    if "stack overflow" in message or "Maximum call stack size exceeded" in message:
        return ErrorKind.STACK
    return kind


class _Abort(Exception):
    def __init__(self, error: ScriptError):
        super().__init__(str(error))
        self.error = error


class Engine:
    """A fresh context with the prelude loaded. Serves exactly one run, on its own thread.

    A used context cannot be reset (top-level bindings, prototype changes, queued jobs
    survive), so after `run` the engine is spent and must be dropped.
    """

    def __init__(self, stack_bytes: int = ResourceLimits.stack_bytes, preload: tuple[str, ...] = ()) -> None:
        """`preload`: curated packages and web units evaluated now, while the context is prepared, instead of
        during its run (the runner passes those its last run loaded). Trusted code, before any user code exists."""
        self.thread_id = threading.get_ident()
        self.created_at = time.monotonic()
        self.spent = False
        self._context = quickjs.Context()
        self._context.set_max_stack_size(stack_bytes)
        self._context.eval_bytecode(prelude_bytecode())  # parks the driver on globalThis.__jsr$driver
        methods = [self._context.eval(f"__jsr$driver.{name}") for name in _DRIVER_METHODS]
        self._context.eval("delete globalThis.__jsr$driver")
        for name in preload:
            self._context.eval_bytecode(preload_bytecode(name))
        self.preloaded = frozenset(preload)
        (self._setup, self._start, self._poll, self._deliver, self._next_timer_at, self._fire_timers,
         self._finish) = methods
        self._deadline = 0.0

    def run(self, request: RunRequest, compiled: CompiledScript, host: HostChannels,
            input_json: str | None = None) -> RunResult:
        """Run once; `input_json`, when given, is `request.input` already as JSON text (a runner receives it so)."""
        if self.spent:
            raise RuntimeError("an engine serves exactly one run")
        if threading.get_ident() != self.thread_id:
            raise RuntimeError("a QuickJS context must stay on the thread that created it")
        self.spent = True
        limits = request.limits
        started = time.perf_counter()
        self._deadline = time.monotonic() + limits.timeout_ms / 1000
        result = RunResult()
        if compiled.error is not None:
            result.error = compiled.error
            return result
        try:
            self._context.set_memory_limit(limits.memory_bytes)
            self._context.set_max_stack_size(limits.stack_bytes)
            self._prepare(request, compiled)
            if request.handler not in _HANDLER_LOOKUP:
                raise _Abort(ScriptError(ErrorKind.RUNTIME, "ReferenceError",
                                         f"{request.handler!r} is not a handler name"))
            for name, module in compiled.modules:
                if name not in self.preloaded:
                    self._js(self._context.eval_bytecode, module, during_eval=True)
            self._js(self._context.eval_bytecode, compiled.bytecode, during_eval=True)
            handler = self._js(self._context.eval_bytecode, _handler_lookup_bytecode(request.handler))
            self._js(self._start, handler, request.handler,
                     json.dumps(request.input) if input_json is None else input_json)
            self._drive(request, host, result)
        except _Abort as abort:
            result.error = abort.error
        self._finish_run(limits, result)
        result.duration_ms = (time.perf_counter() - started) * 1000
        result.memory_bytes = self._memory_used()
        return result

    def _prepare(self, request: RunRequest, compiled: CompiledScript) -> None:
        context = dict(request.context)
        context["tenantId"] = request.tenant_id
        env = {
            "maxLogEntries": request.limits.log_entries,
            "maxLogBytes": request.limits.log_bytes,
            "credentials": request.credentials,
            "metadata": request.metadata,
            "logMode": request.log_mode if request.log_mode in LOG_MODES else "console",
        }
        if any(name == CRYPTO_UNIT for name, _ in compiled.modules):
            env["entropy"] = os.urandom(32).hex()
        self._js(self._setup, json.dumps(context), json.dumps(env))

    def _js(self, function, *args, during_eval: bool = False):
        """Call into JS under a time limit equal to what is left of the run's deadline."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise _Abort(self._timeout_error())
        self._context.set_time_limit(remaining)
        cpu_started = time.process_time()
        try:
            return function(*args)
        except quickjs.StackOverflow as exc:
            raise _Abort(error_from_text(str(exc), ErrorKind.STACK)) from None
        except quickjs.JSException as exc:
            text = str(exc)
            if not text.strip() or text.startswith("null"):
                # A context that hit its memory limit can fail without an error object.
                raise _Abort(ScriptError(ErrorKind.MEMORY, "InternalError", "out of memory")) from None
            error = error_from_text(text, ErrorKind.RUNTIME)
            # The interrupt fires only once the call has used its CPU budget (the binding's
            # clock() is process CPU time): an "interrupted" error before that is the script's own.
            if text.startswith("InternalError: interrupted") and (
                    time.process_time() - cpu_started >= remaining - _CLOCK_SLACK_S
                    or time.monotonic() >= self._deadline):
                raise _Abort(self._timeout_error()) from None
            if during_eval and error.type == "SyntaxError":
                error = ScriptError(ErrorKind.SYNTAX, error.type, error.message, error.line,
                                    error.column, error.stack)
            raise _Abort(error) from None

    def _timeout_error(self) -> ScriptError:
        return ScriptError(ErrorKind.TIMEOUT, "TimeoutError", "the script exceeded its time limit")

    def _drive(self, request: RunRequest, host: HostChannels, result: RunResult) -> None:
        """Run jobs, pass host requests on, deliver each answer as it comes and fire timers until the
        handler settles and no host call is outstanding (a call a script did not await still completes)."""
        limits = request.limits
        calls = _HostCalls(request, host, self._deadline)
        jobs = 0
        try:
            while True:
                while self._js(self._context.execute_pending_job):
                    jobs += 1
                    if jobs >= limits.max_jobs:
                        raise _Abort(ScriptError(ErrorKind.TIMEOUT, "JobLimitExceeded",
                                                 f"more than {limits.max_jobs} promise jobs in one run"))
                polled = self._js(self._poll)
                state, batch = polled[0], polled[1:]
                responses = calls.submit(_parse_batch(batch, limits), result) if batch else ""
                if not responses and calls.pending:
                    responses = calls.collect(0.0, result)
                if responses:
                    self._js(self._deliver, responses)
                    continue
                settled = state != "0"
                if settled and not calls.pending:
                    return
                timer_at = -1 if settled else self._js(self._next_timer_at)
                if timer_at < 0 and not calls.pending:
                    raise _Abort(ScriptError(ErrorKind.RUNTIME, "UnsettledPromise",
                                             "the handler awaited a promise that can never settle"))
                wake = self._deadline if timer_at < 0 else min(self._deadline,
                                                               time.monotonic() + timer_at / 1000 - time.time())
                if calls.pending:
                    responses = calls.collect(wake - time.monotonic(), result)
                    if responses:
                        self._js(self._deliver, responses)
                        continue
                else:
                    time.sleep(max(0.0, wake - time.monotonic()))
                if time.monotonic() >= self._deadline:
                    raise _Abort(self._timeout_error())
                if timer_at >= 0:
                    self._js(self._fire_timers, time.time() * 1000)
        finally:
            calls.close(result)

    def _finish_run(self, limits: ResourceLimits, result: RunResult) -> None:
        """Read outcome and console in one crossing, under a fixed budget (the run's own may be spent)."""
        try:
            self._context.set_time_limit(FINISH_BUDGET_S)
            outcome, logs_json, dropped = self._finish().split("\n", 2)
        except quickjs.JSException:
            result.error = result.error or ScriptError(ErrorKind.INTERNAL, "InternalError",
                                                       "the outcome of the run could not be read")
            result.logs = [LogEntry("error", time.time() * 1000, "the logs could not be read after the run")]
            return
        result.logs = _capped_logs(json.loads(_clean_json(logs_json)), int(dropped), limits)
        if result.error is not None:
            return
        if not outcome.startswith(_RESULT_OK_PREFIX):
            failure = json.loads(_clean_json(outcome))["error"]
            header = f"{failure['name']}: {failure['message']}"
            kind = ErrorKind.HOST_FAULT if failure["hostFault"] else ErrorKind.RUNTIME
            result.error = error_from_text(header, kind, stack=failure["stack"])
            return
        value = _clean_json(outcome[len(_RESULT_OK_PREFIX):-1])
        size = len(value) if value.isascii() else len(value.encode())
        if size > limits.output_bytes:
            result.error = ScriptError(ErrorKind.OUTPUT_TOO_LARGE, "OutputTooLarge",
                                       f"the output is {size} bytes; the limit is {limits.output_bytes}")
            return
        if json_too_deep(value):
            result.error = ScriptError(ErrorKind.OUTPUT_TOO_LARGE, "OutputTooDeep",
                                       f"the output is nested more than {JSON_MAX_DEPTH} deep")
            return
        result.output_json = value

    def _memory_used(self) -> int:
        try:
            return int(self._context.memory()["memory_used_size"])
        except Exception:
            return 0


class _HostCalls:
    """One run's host calls in flight: passed on as each round queues them, answered one by one as each
    completes. The host-call limit is counted here; the record of what the run touched keeps call order."""

    def __init__(self, request: RunRequest, host: HostChannels, deadline: float) -> None:
        self._request = request
        self._host = host
        self._deadline = deadline
        self._channel: HostChannel | None = None  # opened by the first call: a run without any pays nothing
        self.pending: dict[int, dict] = {}
        self._records: list[tuple[int, dict[str, Any]]] = []
        self._next_key = 0

    def submit(self, calls: list[dict], result: RunResult) -> str:
        """Pass a round's requests on; the answers to refuse at once (args that are not an array) as JSON."""
        limit = self._request.limits.host_calls
        if result.host_calls + len(calls) > limit:
            raise _Abort(ScriptError(ErrorKind.HOST_CALL_LIMIT, "HostCallLimitExceeded",
                                     f"more than {limit} host API calls in one run"))
        result.host_calls += len(calls)
        outgoing, refused = [], []
        for call in calls:
            key, self._next_key = self._next_key, self._next_key + 1
            self.pending[key] = call
            # A script's Array.prototype.toJSON can turn args into anything: only arrays reach a handler.
            if not isinstance(call.get("args"), list):
                refused.append((key, _ARGS_NOT_AN_ARRAY.copy(), 0.0))
                continue
            outgoing.append((key, HostCall(tenant_id=self._request.tenant_id, api=str(call.get("api")),
                                           method=str(call.get("method")), args=call["args"],
                                           deadline=self._deadline, run=self._request.context)))
        if outgoing:
            if self._channel is None:
                self._channel = self._host.channel()
            self._channel.submit(outgoing)
        return self._responses(refused)

    def collect(self, timeout: float, result: RunResult) -> str:
        """The answers ready within `timeout` seconds, as the JSON the prelude's deliver takes ('' for none)."""
        if self._channel is None:
            return ""
        started = time.perf_counter()
        answers = self._channel.wait(timeout)
        result.host_time_ms += (time.perf_counter() - started) * 1000
        return self._responses(answers)

    def _responses(self, answers: list[Answer]) -> str:
        texts = []
        for key, answer, elapsed_ms in answers:
            call = self.pending.pop(key, None)
            if call is None:
                continue  # not one of this run's outstanding calls
            answer["id"] = call.get("id")
            text = json.dumps(answer)
            texts.append(text)
            self._records.append((key, _call_record(call, answer, elapsed_ms, len(text))))
        return "[" + ",".join(texts) + "]" if texts else ""

    def close(self, result: RunResult) -> None:
        """The run is over: calls not answered are dropped; the record lists the answered ones in call order."""
        if self._channel is not None:
            self._channel.close()
        result.host_call_timings = [record for _, record in sorted(self._records, key=lambda item: item[0])]


def _call_record(call: dict, answer: dict, elapsed_ms: float, size: int) -> dict[str, Any]:
    """What a run touched, for its history: api, method, target (an HTTP host, a collection, an event type;
    never a URL's path or query, a cache key or a secret's name), HTTP status, time and answer size."""
    api, args = call.get("api"), call.get("args")
    first = args[0] if isinstance(args, list) and args and isinstance(args[0], str) else None
    target = None
    if api == "http" and first is not None:
        try:
            target = urlsplit(first).hostname
        except ValueError:
            target = None
    elif api in ("db", "events") and first is not None:
        target = first[:200]
    value, error = answer.get("value"), answer.get("error")
    status = (value.get("status") if answer["ok"] and isinstance(value, dict) and api == "http"
              else error.get("status") if isinstance(error, dict) else None)
    return {"api": api, "method": call.get("method"), "target": target, "status": status,
            "ms": round(elapsed_ms, 3), "bytes": size, "ok": answer["ok"]}


def _parse_batch(batch: str, limits: ResourceLimits) -> list[dict]:
    """One round's host requests, refused before parsing when too large or too deep."""
    size = len(batch) if batch.isascii() else len(batch.encode(errors="surrogatepass"))
    if size > limits.host_batch_bytes:
        raise _Abort(ScriptError(ErrorKind.HOST_CALL_LIMIT, "HostRequestTooLarge",
                                 f"the host requests of one round are {size} bytes; the limit is "
                                 f"{limits.host_batch_bytes}"))
    if json_too_deep(batch, extra=2):  # [ {request} ... ]
        raise _Abort(ScriptError(ErrorKind.HOST_CALL_LIMIT, "HostRequestTooDeep",
                                 f"host call arguments are nested more than {JSON_MAX_DEPTH} deep"))
    return json.loads(f"[{batch}]")


_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(set(range(256)) - set(b'[]{}"\\'))


def json_too_deep(text: str, extra: int = 0) -> bool:
    """Whether the JSON `text` nests deeper than JSON_MAX_DEPTH - extra, without recursing.

    Counting the opening brackets settles most texts. A wide one is cut down to brackets,
    quotes and backslashes, then to the brackets outside strings, whose innermost pairs each
    pass of `replace` removes: passes = depth. All at C speed (~0.3 ms for a 226 KB batch).
    """
    limit = JSON_MAX_DEPTH - extra
    if text.count("[") + text.count("{") <= limit:
        return False
    data = text.encode(errors="surrogatepass").translate(_BRACKETS, _NOT_STRUCTURE)
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"").replace(b'""', b"")  # escapes, then bracket-free strings
    brackets = b"".join(data.split(b'"')[::2])
    for _ in range(limit):
        inner_removed = brackets.replace(b"()", b"")
        if len(inner_removed) == len(brackets):
            return False
        brackets = inner_removed
    return bool(brackets)


def _capped_logs(raw: list[dict], dropped: int, limits: ResourceLimits) -> list[LogEntry]:
    entries: list[LogEntry] = []
    size = 0
    for item in raw:
        message = str(item.get("message", ""))
        length = len(message) if message.isascii() else len(message.encode())
        if len(entries) >= limits.log_entries or size + length > limits.log_bytes:
            dropped += 1
            continue
        size += length
        entries.append(LogEntry(str(item.get("level", "info")), float(item.get("time", 0)), message))
    if dropped:
        entries.append(LogEntry("warn", time.time() * 1000, f"{dropped} log entries dropped (log limit)"))
    return entries
