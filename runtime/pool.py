"""Fresh pre-warmed engines per thread, run quotas and metrics.

A context serves one run and must stay on the thread that made it, so each thread
keeps its own prepared engine (prelude loaded) and builds the next one with
`prepare()` when it is idle, off the request's path. Engines are never handed to
another thread. `acquire()` enforces a global cap on concurrent runs and a per-tenant
quota (and a per-script one), waiting up to a bound before failing with RuntimeBusy.
"""

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from runtime.engine import CompilationCache, Engine, RunRequest
from runtime.errors import ErrorKind, RunResult, RuntimeBusy, RuntimeClosed, ScriptError
from runtime.host import HostRegistry
from runtime.limits import ResourceLimits


@dataclass
class PoolMetrics:
    ready: int = 0
    in_use: int = 0
    created: int = 0
    discarded: int = 0
    hits: int = 0
    misses: int = 0
    waits: int = 0
    wait_ms_total: float = 0.0
    wait_ms_max: float = 0.0
    rejected: int = 0


class _PreparedSlot:
    """Holds one thread's prepared engine; keeps the pool's `ready` count true when the thread ends."""

    def __init__(self, pool: "RuntimePool") -> None:
        self.pool = pool
        self.engine: Engine | None = None
        self.spent: Engine | None = None  # freed by the next prepare(), off the request's path

    def take(self) -> Engine | None:
        engine, self.engine = self.engine, None
        if engine is not None:
            self.pool._count(ready=-1)
        return engine

    def __del__(self) -> None:
        if self.engine is not None:
            self.pool._count(ready=-1, discarded=1)


class RuntimePool:
    def __init__(
        self,
        host: HostRegistry | None = None,
        *,
        max_concurrent: int = 16,
        tenant_concurrency: int = 5,
        script_concurrency: int = 5,
        acquire_timeout: float = 10.0,
        idle_ttl: float = 300.0,
        cache_size: int = 1000,
        stack_bytes: int = ResourceLimits.stack_bytes,
    ) -> None:
        self.host = host or HostRegistry()
        self.cache = CompilationCache(cache_size)
        self.max_concurrent = max_concurrent
        self.tenant_concurrency = tenant_concurrency
        self.script_concurrency = script_concurrency
        self.acquire_timeout = acquire_timeout
        self.idle_ttl = idle_ttl
        self.stack_bytes = stack_bytes
        self._metrics = PoolMetrics()
        self._by_tenant: Counter[str] = Counter()
        self._by_script: Counter[str] = Counter()
        self._cond = threading.Condition()
        self._local = threading.local()
        self._closed = False

    # -- preparation (per thread) ------------------------------------------------
    def _slot(self) -> _PreparedSlot:
        slot = getattr(self._local, "slot", None)
        if slot is None:
            slot = self._local.slot = _PreparedSlot(self)
        return slot

    def prepare(self) -> None:
        """Have a fresh engine ready on this thread; call when the thread is idle."""
        slot = self._slot()
        slot.spent = None
        if slot.engine is not None and time.monotonic() - slot.engine.created_at > self.idle_ttl:
            slot.take()
            self._count(discarded=1)
        if slot.engine is None and not self._closed:
            slot.engine = Engine(self.stack_bytes)
            self._count(ready=1, created=1)

    def release_idle(self) -> None:
        """Drop this thread's prepared and spent engines (e.g. a worker going idle for long)."""
        slot = self._slot()
        slot.spent = None
        if slot.take() is not None:
            self._count(discarded=1)

    # -- runs ------------------------------------------------------------------------
    @contextmanager
    def acquire(self, tenant_id: str, tenant_limit: int | None = None, script_id: str | None = None,
                script_limit: int | None = None) -> Iterator[Engine]:
        """A fresh engine for one run, within the global, tenant and (optional) script quotas."""
        quotas = [(self._by_tenant, tenant_id, tenant_limit or self.tenant_concurrency)]
        if script_id is not None:
            quotas.append((self._by_script, script_id, script_limit or self.script_concurrency))
        self._enter(quotas)
        slot = self._slot()
        try:
            engine = slot.take()
            if engine is not None and time.monotonic() - engine.created_at <= self.idle_ttl:
                self._count(hits=1)
            else:
                if engine is not None:
                    self._count(discarded=1)
                engine = Engine(self.stack_bytes)
                self._count(misses=1, created=1)
            try:
                yield engine
            finally:
                slot.spent = engine  # a used context cannot be reset: it is only ever freed
        finally:
            self._leave(quotas)

    def run(self, request: RunRequest, tenant_limit: int | None = None, script_limit: int | None = None) -> RunResult:
        """Check, run and account one request; quota failures come back as a BUSY result.

        The per-script quota applies when the request's context names a `scriptId`.
        """
        compiled = self.cache.compile(request.source, request.limits.source_bytes)
        if compiled.error is not None:
            return RunResult(error=compiled.error)
        try:
            with self.acquire(request.tenant_id, tenant_limit, request.context.get("scriptId"),
                              script_limit) as engine:
                return engine.run(request, compiled, self.host)
        except (RuntimeBusy, RuntimeClosed) as exc:
            return RunResult(error=ScriptError(ErrorKind.BUSY, type(exc).__name__, str(exc)))

    def _enter(self, quotas: list[tuple[Counter, str, int]]) -> None:
        started = time.monotonic()
        deadline = started + self.acquire_timeout
        with self._cond:
            waited = False
            while True:
                if self._closed:
                    raise RuntimeClosed("the runtime is shutting down")
                if self._metrics.in_use < self.max_concurrent and all(
                        running[key] < limit for running, key, limit in quotas):
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._metrics.rejected += 1
                    limits = ", ".join(f"{key}: {limit}" for _, key, limit in quotas)
                    raise RuntimeBusy(f"no run slot within {self.acquire_timeout:g}s (limits {limits}; "
                                      f"global {self.max_concurrent})")
                waited = True
                self._cond.wait(remaining)
            self._metrics.in_use += 1
            for running, key, _ in quotas:
                running[key] += 1
            if waited:
                waited_ms = (time.monotonic() - started) * 1000
                self._metrics.waits += 1
                self._metrics.wait_ms_total += waited_ms
                self._metrics.wait_ms_max = max(self._metrics.wait_ms_max, waited_ms)

    def _leave(self, quotas: list[tuple[Counter, str, int]]) -> None:
        with self._cond:
            self._metrics.in_use -= 1
            self._metrics.discarded += 1
            for running, key, _ in quotas:
                running[key] -= 1
                if running[key] <= 0:
                    del running[key]
            self._cond.notify_all()

    def _count(self, **deltas: int) -> None:
        with self._cond:
            for name, delta in deltas.items():
                setattr(self._metrics, name, getattr(self._metrics, name) + delta)

    # -- observation and shutdown ------------------------------------------------------
    def metrics(self) -> dict:
        with self._cond:
            data = dict(vars(self._metrics))
            data["tenants_running"] = dict(self._by_tenant)
            data["scripts_running"] = dict(self._by_script)
        data["cache_entries"] = len(self.cache)
        data["cache_hits"] = self.cache.hits
        data["cache_misses"] = self.cache.misses
        return data

    def close(self, timeout: float = 30.0) -> bool:
        """Refuse new runs and wait for running ones; True when drained in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._metrics.in_use > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        self.release_idle()
        return True
