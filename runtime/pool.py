"""The supervisor: runner processes, run quotas, host requests, the wall-clock watchdog.

Web processes and Huey workers never execute QuickJS themselves. A run is sent to an
idle runner process (runtime/runner.py); while it runs, the calling thread serves the
runner's host requests and watches the clock. At the run's wall-clock deadline plus a
small grace the runner is killed with SIGKILL and replaced: the engine's own interrupt
is not trusted to end a run (native loops never poll it, some built-ins swallow it, and
it counts process CPU time). A runner that dies on its own ends its run as `crashed`.
Either way only that run is lost; the thread, the quota slots and the other runs are not.

Quotas: a run takes one runner (so at most `runners` at once per process), and at most
`tenant_concurrency` per tenant and `script_concurrency` per script, waiting up to
`acquire_timeout` before failing with RuntimeBusy.
"""

import functools
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from runtime import zygote
from runtime.engine import RunRequest, source_size_error
from runtime.errors import ErrorKind, RunResult, RuntimeBusy, RuntimeClosed, ScriptError
from runtime.host import Answer, HostCall, HostRegistry, HostSession
from runtime.limits import MB
from runtime.runner import RunnerSettings, decode, encode, error_from_wire, request_to_wire, result_from_wire

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
_CHECK_SECONDS = 5.0  # a parse of the largest allowed source takes milliseconds
_MIN_MESSAGE_BYTES = 16 * MB


@dataclass
class PoolMetrics:
    runners: int = 0            # configured size
    idle: int = 0
    in_use: int = 0
    spawned: int = 0
    runs: int = 0
    killed_timeout: int = 0     # killed by the watchdog at deadline + grace
    crashed: int = 0            # died on their own (segfault, abort, OOM kill) or broke the protocol
    recycled: int = 0           # retired after max_runs_per_runner runs
    waits: int = 0
    wait_ms_total: float = 0.0
    wait_ms_max: float = 0.0
    rejected: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    last_replacement_ms: float = 0.0  # from a kill to the replacement being ready


class _Hung(Exception):
    """The runner said nothing before the deadline."""


class _Lost(Exception):
    """The runner died, closed its channel or sent something it must not."""


class Runner:
    """The supervisor's handle on one runner process."""

    def __init__(self, conn: Connection, pid: int) -> None:
        self.conn = conn
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)  # signals reach this process even if its pid is reused
        self.runs = 0
        self._send_lock = threading.Lock()  # host threads send answers while the run's thread reads
        self._poller = select.poll()  # registered once: Connection.poll builds a selector per call
        self._poller.register(conn.fileno(), select.POLLIN)

    def readable(self, timeout: float = 0.0) -> bool:
        return bool(self._poller.poll(timeout * 1000))

    def send(self, message: dict[str, Any], payload: str | None = None) -> None:
        data = encode(message, payload)
        with self._send_lock:
            try:
                self.conn.send_bytes(data)
            except OSError as exc:  # includes a channel this side has closed
                raise _Lost(f"the runner's channel is closed ({exc})") from None

    def kill(self) -> None:
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already gone
        self.close()

    def close(self) -> None:
        """Close the channel: an idle runner reads EOF and exits by itself.

        Never while a host thread is sending on it: its descriptor could be reused by then."""
        with self._send_lock:
            self.conn.close()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1


class Zygote:
    """Starts the fork server (runtime/zygote.py) and asks it for runners."""

    def __init__(self, settings: RunnerSettings) -> None:
        self._lock = threading.Lock()
        ours, theirs = socket.socketpair()
        # Scripts see UTC as local time on every host (Intl.DateTimeFormat's default zone says so too).
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC"}
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                "from runtime.zygote import main; main(int(sys.argv[1]), sys.argv[2])")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", code, str(theirs.fileno()), json.dumps(asdict(settings))],
            pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=subprocess.DEVNULL)
        theirs.close()
        self.control = ours

    def spawn(self, ready_timeout: float = 30.0) -> Runner:
        """A new runner with its first context prepared."""
        ours, theirs = socket.socketpair()
        with self._lock:
            try:
                socket.send_fds(self.control, [b"r"], [theirs.fileno()])
                pid = zygote.PID.unpack(_recv_exactly(self.control, zygote.PID.size))[0]
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
        runner = Runner(Connection(ours.detach()), pid)
        if not runner.conn.poll(ready_timeout):
            runner.kill()
            raise RuntimeError("a new runner did not become ready")
        message, _ = decode(runner.conn.recv_bytes())
        if message.get("op") != "ready":
            runner.kill()
            raise RuntimeError(f"a new runner said {message.get('op')!r} instead of 'ready'")
        return runner

    def close(self) -> None:
        self.control.close()  # the zygote reads EOF and exits; its runners die with it
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answer(runner: "Runner", answer: Answer) -> None:
    """Send one host answer to the runner whose run asked for it (on the host thread that served it)."""
    runner.send({"op": "host", "answers": [answer]})


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise RuntimeError("the zygote is gone")
        data += chunk
    return data


class RuntimePool:
    def __init__(
        self,
        host: HostRegistry | None = None,
        *,
        runners: int | None = None,
        tenant_concurrency: int = 5,
        script_concurrency: int = 5,
        acquire_timeout: float = 10.0,
        grace: float = 0.2,
        max_runs_per_runner: int = 10_000,
        runner_settings: RunnerSettings | None = None,
        spin_us: int = 200,
    ) -> None:
        self.host = host or HostRegistry()
        self.size = runners or os.cpu_count() or 2
        self.tenant_concurrency = tenant_concurrency
        self.script_concurrency = script_concurrency
        self.acquire_timeout = acquire_timeout
        self.grace = grace
        self.max_runs_per_runner = max_runs_per_runner
        self.runner_settings = runner_settings or RunnerSettings()
        self.spin_seconds = spin_us / 1_000_000  # how long a caller may poll for its runner's answer before it sleeps
        self._typical_answer = 0.0  # moving average of the seconds a runner takes to answer a run
        self._metrics = PoolMetrics(runners=self.size)
        self._by_tenant: Counter[str] = Counter()
        self._by_script: Counter[str] = Counter()
        self._idle: deque[Runner] = deque()
        self._busy: set[Runner] = set()
        self._cond = threading.Condition(threading.RLock())  # _replace may run while it is held
        self._closed = False
        self._zygote: Zygote | None = None
        self._owner_pid = 0

    # -- runner processes ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the zygote and pre-start every runner (idempotent; again after a fork)."""
        with self._cond:
            if self._owner_pid == os.getpid() or self._closed:
                return
            # A forked child (e.g. a gunicorn worker of a preloaded app) gets its own runners.
            self._owner_pid = os.getpid()
            self._idle.clear()
            self._metrics.idle = 0
            self._zygote = Zygote(self.runner_settings)
        for _ in range(self.size):
            self._add_runner()

    def _add_runner(self) -> None:
        """Spawn one runner into the idle set, restarting a dead zygote once."""
        for attempt in range(2):
            with self._cond:
                zygote_ = self._zygote
                if self._closed or zygote_ is None:
                    return
            try:
                runner = zygote_.spawn()
                break
            except Exception:  # the zygote died or the pool closed under us: retried once unless closed
                with self._cond:
                    if self._closed:
                        return
                    if attempt:
                        raise
                    log.exception("could not start a runner; restarting the zygote")
                    if self._zygote is zygote_:
                        zygote_.close()
                        self._zygote = Zygote(self.runner_settings)
        with self._cond:
            if self._closed:
                runner.close()
                return
            self._idle.append(runner)
            self._metrics.spawned += 1
            self._metrics.idle = len(self._idle)
            self._cond.notify_all()

    def _replace(self, runner: Runner, reason: str, killed_at: float | None = None) -> None:
        """Kill `runner` and start its replacement off the caller's path."""
        runner.kill()
        with self._cond:
            setattr(self._metrics, reason, getattr(self._metrics, reason) + 1)

        def replace() -> None:
            self._add_runner()
            if killed_at is not None:
                with self._cond:
                    self._metrics.last_replacement_ms = (time.monotonic() - killed_at) * 1000

        threading.Thread(target=replace, name="jsr-runner-spawn", daemon=True).start()

    # -- runs -----------------------------------------------------------------------------------
    def run(self, request: RunRequest, tenant_limit: int | None = None, script_limit: int | None = None) -> RunResult:
        """Run one request in a runner; quota failures come back as a BUSY result.

        The per-script quota applies when the request's context names a `scriptId`.
        """
        too_large = source_size_error(request.source, request.limits.source_bytes)
        if too_large is not None:
            return RunResult(error=too_large)
        script_id = request.context.get("scriptId")
        quotas = [(self._by_tenant, request.tenant_id, tenant_limit or self.tenant_concurrency)]
        if script_id is not None:
            quotas.append((self._by_script, str(script_id), script_limit or self.script_concurrency))
        try:
            with self._runner(quotas) as runner:
                return self._execute(runner, request)
        except (RuntimeBusy, RuntimeClosed) as exc:
            return RunResult(error=ScriptError(ErrorKind.BUSY, type(exc).__name__, str(exc)))

    def check(self, source: str, max_bytes: int | None = None,
              modules: dict[str, str] | None = None) -> ScriptError | None:
        """The syntax or link error of `source` (with line:column), parsed in a runner, or None.

        `modules` are what its imports may name (specifier -> source)."""
        too_large = source_size_error(source, max_bytes)
        if too_large is not None:
            return too_large
        try:
            with self._runner([]) as runner:
                return self._check(runner, source, modules or {})
        except (RuntimeBusy, RuntimeClosed) as exc:
            return ScriptError(ErrorKind.BUSY, type(exc).__name__, str(exc))

    def _check(self, runner: Runner, source: str, modules: dict[str, str]) -> ScriptError | None:
        try:
            runner.send({"op": "check", "source": source, "modules": modules})
            message, _ = self._receive(runner, time.monotonic() + _CHECK_SECONDS, _MIN_MESSAGE_BYTES)
            if message.get("op") != "checked":
                raise _Lost(f"unexpected {message.get('op')!r}")
            return error_from_wire(message["error"])
        except (_Hung, _Lost, KeyError, TypeError, ValueError) as exc:
            self._replace(runner, "crashed")
            log.warning("runner %d failed a syntax check: %s", runner.pid, exc)
            return ScriptError(ErrorKind.CRASHED, "RunnerCrashed", "the syntax check could not be completed")

    def _execute(self, runner: Runner, request: RunRequest) -> RunResult:
        started = time.monotonic()
        deadline = started + request.limits.timeout_ms / 1000
        max_bytes = max(_MIN_MESSAGE_BYTES, 8 * (request.limits.output_bytes + request.limits.log_bytes))
        host_calls = 0
        session: HostSession | None = None  # opened by the first host call: a run without any pays nothing
        try:
            envelope, input_json = request_to_wire(request)
            runner.send({"op": "run", "request": envelope}, input_json)
            while True:
                message, payload = self._receive(runner, deadline + self.grace, max_bytes)
                self._typical_answer += (time.monotonic() - started - self._typical_answer) / 8
                op = message.get("op")
                if op == "host":
                    calls = message["calls"]
                    host_calls += len(calls)
                    if host_calls > request.limits.host_calls:
                        raise _Lost("more host calls than the run's limit")
                    if session is None:
                        session = self.host.session(functools.partial(_answer, runner))
                    self._serve(session, request, deadline, calls)
                elif op == "result":
                    result = result_from_wire(message["result"], payload)
                    self._count("cache_hits" if message.get("cached") else "cache_misses")
                    return result
                else:
                    raise _Lost(f"unexpected {op!r}")
        except _Hung:
            killed_at = time.monotonic()
            self._replace(runner, "killed_timeout", killed_at)
            log.warning("runner %d killed at the deadline: tenant %s, script %s, execution %s",
                        runner.pid, request.tenant_id, request.context.get("scriptId"),
                        request.context.get("executionId"))
            return RunResult(error=ScriptError(ErrorKind.TIMEOUT, "TimeoutError",
                                               "the script exceeded its time limit and was stopped"),
                             duration_ms=(killed_at - started) * 1000)
        except (_Lost, KeyError, TypeError, ValueError) as exc:
            self._replace(runner, "crashed")
            log.warning("runner %d crashed: tenant %s, script %s, execution %s: %s", runner.pid,
                        request.tenant_id, request.context.get("scriptId"), request.context.get("executionId"), exc)
            return RunResult(error=ScriptError(ErrorKind.CRASHED, "RunnerCrashed",
                                               "the script's runner process stopped unexpectedly"),
                             duration_ms=(time.monotonic() - started) * 1000)
        finally:
            if session is not None:
                session.close()  # calls still queued never start; those still running answer nobody

    def _serve(self, session: HostSession, request: RunRequest, deadline: float, calls: list[dict[str, Any]]) -> None:
        """Start a round's host calls, bound to the tenant and run of the parent's own copy of the request."""
        for call in calls:
            key, args = call["key"], call["args"]
            if type(key) is not int or not isinstance(args, list):
                raise TypeError("a host call needs an integer key and a list of arguments")
            session.submit(key, HostCall(
                tenant_id=request.tenant_id, api=str(call["api"]), method=str(call["method"]), args=args,
                deadline=deadline, run=request.context))

    def _receive(self, runner: Runner, deadline: float, max_bytes: int) -> tuple[dict[str, Any], str | None]:
        """The runner's next message.

        Waking a sleeping thread costs more here (~100 µs on a VM) than a short run, so while
        runs are typically answered within the spin budget the caller polls that long
        before it sleeps; when they are not, it sleeps at once and spends no CPU.
        """
        conn = runner.conn
        if not runner.readable():
            spin = self.spin_seconds if self._typical_answer <= self.spin_seconds else 0.0
            spin_until = time.perf_counter() + spin
            while not runner.readable():
                if time.perf_counter() >= spin_until:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not runner.readable(remaining):
                        raise _Hung()
                    break
                os.sched_yield()  # on a busy machine the runner may need this core
        try:
            return decode(conn.recv_bytes(max_bytes))
        except (EOFError, OSError, ValueError, RecursionError) as exc:
            raise _Lost(str(exc) or type(exc).__name__) from None

    @contextmanager
    def _runner(self, quotas: list[tuple[Counter, str, int]]) -> Iterator[Runner]:
        self.start()
        runner = self._enter(quotas)
        try:
            yield runner
        finally:
            self._leave(runner, quotas)

    def _enter(self, quotas: list[tuple[Counter, str, int]]) -> Runner:
        started = time.monotonic()
        deadline = started + self.acquire_timeout
        with self._cond:
            waited = False
            while True:
                if self._closed:
                    raise RuntimeClosed("the runtime is shutting down")
                if self._idle and all(running[key] < limit for running, key, limit in quotas):
                    runner = self._idle.popleft()
                    if not runner.readable():
                        break
                    self._replace(runner, "crashed")  # an idle runner has nothing to say unless it died
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._metrics.rejected += 1
                    limits = ", ".join(f"{key}: {limit}" for _, key, limit in quotas)
                    raise RuntimeBusy(f"no run slot within {self.acquire_timeout:g}s (limits {limits}; "
                                      f"runners {self.size})")
                waited = True
                self._cond.wait(remaining)
            self._metrics.idle = len(self._idle)
            self._metrics.in_use += 1
            self._busy.add(runner)
            for running, key, _ in quotas:
                running[key] += 1
            if waited:
                waited_ms = (time.monotonic() - started) * 1000
                self._metrics.waits += 1
                self._metrics.wait_ms_total += waited_ms
                self._metrics.wait_ms_max = max(self._metrics.wait_ms_max, waited_ms)
        return runner

    def _leave(self, runner: Runner, quotas: list[tuple[Counter, str, int]]) -> None:
        retire = False
        with self._cond:
            self._metrics.in_use -= 1
            self._metrics.runs += 1
            self._busy.discard(runner)
            for running, key, _ in quotas:
                running[key] -= 1
                if running[key] <= 0:
                    del running[key]
            if not runner.conn.closed:  # a killed runner is being replaced, not returned
                runner.runs += 1
                if self._closed:
                    runner.close()
                elif runner.runs >= self.max_runs_per_runner:
                    retire = True
                else:
                    self._idle.append(runner)
                    self._metrics.idle = len(self._idle)
            self._cond.notify_all()
        if retire:
            runner.close()
            self._count("recycled")
            threading.Thread(target=self._add_runner, name="jsr-runner-spawn", daemon=True).start()

    def _count(self, name: str) -> None:
        with self._cond:
            setattr(self._metrics, name, getattr(self._metrics, name) + 1)

    # -- observation and shutdown ---------------------------------------------------------------
    def metrics(self) -> dict:
        with self._cond:
            data = dict(vars(self._metrics))
            data["tenants_running"] = dict(self._by_tenant)
            data["scripts_running"] = dict(self._by_script)
            data["idle_pids"] = [runner.pid for runner in self._idle]
            data["busy_pids"] = [runner.pid for runner in self._busy]
        return data

    def close(self, timeout: float = 30.0) -> bool:
        """Refuse new runs, let running ones finish within `timeout`, then stop every runner.

        True when everything drained in time; runs still going after it end as crashed.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._metrics.in_use > 0 and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            drained = self._metrics.in_use == 0
            idle, self._idle = list(self._idle), deque()
            self._metrics.idle = 0
            zygote_, self._zygote = self._zygote, None
        for runner in idle:
            runner.close()
        if zygote_ is not None:
            zygote_.close()  # busy runners left after the drain period die with the zygote
        return drained
