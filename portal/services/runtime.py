"""The app's RuntimePool: built once per app from config, with the host APIs registered."""

from flask import Flask, current_app

from runtime import HostRegistry, ResourceLimits, RuntimePool

EXTENSION_KEY = "jsr.pool"


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = RuntimePool(
        HostRegistry(),
        max_concurrent=app.config["JSR_MAX_CONCURRENT"],
        tenant_concurrency=app.config["JSR_TENANT_CONCURRENT"],
    )


def pool() -> RuntimePool:
    return current_app.extensions[EXTENSION_KEY]


def default_limits() -> ResourceLimits:
    config = current_app.config
    return ResourceLimits(
        timeout_ms=config["JSR_TIMEOUT_MS"],
        memory_bytes=config["JSR_MEMORY_MB"] * 1024 * 1024,
        host_calls=config["JSR_HOST_CALLS"],
        output_bytes=config["JSR_OUTPUT_BYTES"],
        source_bytes=config["JSR_SOURCE_BYTES"],
    )
