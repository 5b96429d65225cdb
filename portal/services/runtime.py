"""The app's RuntimePool: built once per app from config, with the host APIs registered."""

from flask import Flask, current_app, g, has_request_context

from runtime import HostRegistry, ResourceLimits, RunRequest, RunResult, RuntimePool

EXTENSION_KEY = "jsr.pool"


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = RuntimePool(
        HostRegistry(),
        max_concurrent=app.config["JSR_MAX_CONCURRENT"],
        tenant_concurrency=app.config["JSR_TENANT_CONCURRENT"],
        script_concurrency=app.config["JSR_SCRIPT_CONCURRENT"],
    )

    @app.after_request
    def prepare_after_response(response):
        # The thread that served a run builds its next context after the response is sent.
        if g.get("jsr_ran"):
            response.call_on_close(app.extensions[EXTENSION_KEY].prepare)
        return response


def pool() -> RuntimePool:
    return current_app.extensions[EXTENSION_KEY]


def run(request: RunRequest, tenant_limit: int | None = None, script_limit: int | None = None) -> RunResult:
    if has_request_context():
        g.jsr_ran = True
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


def limits_for(script, tenant) -> ResourceLimits:
    """Config defaults, overridden per script, never above the tenant's maxima."""
    base = default_limits()
    timeout_ms = min(script.timeout_ms or base.timeout_ms, tenant.max_timeout_ms)
    memory_mb = min(script.memory_mb or base.memory_bytes // (1024 * 1024), tenant.max_memory_mb)
    host_calls = min(script.host_calls or base.host_calls, tenant.max_host_calls)
    return base.with_overrides(timeout_ms=timeout_ms, memory_bytes=memory_mb * 1024 * 1024, host_calls=host_calls)
