"""The app's RuntimePool: built once per app from config, with the host APIs registered.

Its runner processes start on first use (or when a worker calls `pool().start()`), so
CLI commands such as `flask db upgrade` start none.
"""

from flask import Flask, current_app
from sqlalchemy import ColumnElement, case, func

from portal.services import hostapi
from runtime import HostRegistry, ResourceLimits, RunnerSettings, RunRequest, RunResult, RuntimePool

EXTENSION_KEY = "jsr.pool"


def init_app(app: Flask) -> None:
    host = HostRegistry()
    hostapi.register(app, host)
    app.extensions[EXTENSION_KEY] = RuntimePool(
        host,
        runners=app.config["JSR_RUNNERS"],
        tenant_concurrency=app.config["JSR_TENANT_CONCURRENT"],
        script_concurrency=app.config["JSR_SCRIPT_CONCURRENT"],
        max_runs_per_runner=app.config["JSR_RUNNER_MAX_RUNS"],
        runner_settings=RunnerSettings(address_space_bytes=app.config["JSR_RUNNER_MEMORY_MB"] * 1024 * 1024,
                                       niceness=app.config["JSR_RUNNER_NICE"]),
    )


def pool() -> RuntimePool:
    return current_app.extensions[EXTENSION_KEY]


def run(request: RunRequest, tenant_limit: int | None = None, script_limit: int | None = None) -> RunResult:
    return pool().run(request, tenant_limit=tenant_limit, script_limit=script_limit)


def default_limits() -> ResourceLimits:
    config = current_app.config
    return ResourceLimits(
        timeout_ms=config["JSR_TIMEOUT_MS"],
        memory_bytes=config["JSR_MEMORY_MB"] * 1024 * 1024,
        host_calls=config["JSR_HOST_CALLS"],
        output_bytes=config["JSR_OUTPUT_BYTES"],
        source_bytes=config["JSR_SOURCE_BYTES"],
    )


def run_timeout_ms(script_timeout_ms: int | None, tenant_max_timeout_ms: int) -> int:
    """A run's time limit: the script's (or the configured default), never above its tenant's maximum."""
    return min(script_timeout_ms or current_app.config["JSR_TIMEOUT_MS"], tenant_max_timeout_ms)


def run_timeout_ms_sql(script_timeout_ms: ColumnElement[int | None],
                      tenant_max_timeout_ms: ColumnElement[int]) -> ColumnElement[int]:
    """run_timeout_ms over columns, for a statement that sets many rows at once (the scheduler's claims)."""
    own = func.coalesce(script_timeout_ms, current_app.config["JSR_TIMEOUT_MS"])
    return case((own < tenant_max_timeout_ms, own), else_=tenant_max_timeout_ms)


def limits_for(script, tenant) -> ResourceLimits:
    """Config defaults, overridden per script, never above the tenant's maxima."""
    base = default_limits()
    timeout_ms = run_timeout_ms(script.timeout_ms, tenant.max_timeout_ms)
    memory_mb = min(script.memory_mb or base.memory_bytes // (1024 * 1024), tenant.max_memory_mb)
    host_calls = min(script.host_calls or base.host_calls, tenant.max_host_calls)
    return base.with_overrides(timeout_ms=timeout_ms, memory_bytes=memory_mb * 1024 * 1024, host_calls=host_calls)
