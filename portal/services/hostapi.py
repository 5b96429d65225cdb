"""The host APIs a run's `ctx.*` calls reach, registered into the app's HostRegistry.

runtime/ knows nothing of Flask or the database: it hands each call to the handler
registered for its API. The handlers here enter an app context of their own (they run on
the registry's worker threads) and call the services with the tenant of the HostCall,
which the supervisor bound from its own copy of the run request: a script never names
a tenant. A service's refusal becomes a HostError the script can catch.
"""

import inspect
from collections.abc import Callable
from typing import Any

from flask import Flask
from limits import RateLimitItemPerMinute, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from portal.services import cache, datastore, events, secrets, tenants
from portal.services.errors import ServiceError, ValidationError
from runtime import HostCall, HostError, HostRegistry
from runtime.host.crypto import CryptoHandler
from runtime.host.geolocation import GeolocationHandler
from runtime.host.http import HttpHandler
from runtime.ssrf import AddressPolicy

Method = Callable[..., Any]

DB_METHODS: dict[str, Method] = {
    "query": datastore.query,
    "findById": datastore.find_by_id,
    "insert": datastore.insert,
    "update": datastore.update,
    "delete": datastore.remove,
}
SECRETS_METHODS: dict[str, Method] = {"get": secrets.value}
CACHE_METHODS: dict[str, Method] = {"get": cache.get, "set": cache.store, "delete": cache.delete}


def register(app: Flask, registry: HostRegistry) -> None:
    """Register http, geolocation and crypto (always) and the tenant APIs (db, cache, secrets, events) for `app`."""
    config = app.config
    registry.register("http", HttpHandler(AddressPolicy.from_setting(config["JSR_HTTP_ALLOW"]),
                                          max_bytes=config["JSR_HTTP_MAX_BYTES"],
                                          default_timeout_ms=config["JSR_HTTP_TIMEOUT_MS"],
                                          admit=outbound_rate(config["JSR_HTTP_RATE"], config["REDIS_URL"],
                                                              tenant_rate=_in_context(app, tenants.http_rate))))
    registry.register("geolocation", GeolocationHandler(config["GEOLOCATION_URL"]))
    registry.register("crypto", CryptoHandler())
    registry.register("db", ServiceHandler(app, "db", DB_METHODS))
    registry.register("secrets", ServiceHandler(app, "secrets", SECRETS_METHODS))
    registry.register("cache", ServiceHandler(app, "cache", CACHE_METHODS))
    # events imports this module through executions: its functions are looked up once both are loaded
    registry.register("events", ServiceHandler(app, "events", {"publish": events.publish_from_run}, with_run=True))


def outbound_rate(rate: str, redis_url: str | None,
                  tenant_rate: Callable[[str], int | None] = lambda _tenant_id: None) -> Callable[[str], bool]:
    """Outbound HTTP calls per tenant: the tenant's own calls per minute (`tenant_rate`, set by its org
    admin) or else JSR_HTTP_RATE (e.g. "60 per minute"), counted in Redis when configured so that every
    process shares the count, in this process's memory otherwise."""
    default = parse(rate)
    limiter = FixedWindowRateLimiter(storage_from_string(redis_url or "memory://"))

    def admit(tenant_id: str) -> bool:
        per_minute = tenant_rate(tenant_id)
        return limiter.hit(default if per_minute is None else RateLimitItemPerMinute(per_minute),
                           "jsr-http-out", tenant_id)

    return admit


def _in_context(app: Flask, function: Callable[[str], Any]) -> Callable[[str], Any]:
    """`function` run in an app context of `app` (host handlers run on the registry's own threads)."""

    def call(argument: str) -> Any:
        with app.app_context():
            return function(argument)

    return call


class ServiceHandler:
    """Serves `ctx.<api>.<method>(...args)` with `method(tenant_id, *args)` in an app context, or with
    `method(tenant_id, run, *args)` when `with_run` (run: the host's copy of the run's context)."""

    def __init__(self, app: Flask, api: str, methods: dict[str, Method], *, with_run: bool = False) -> None:
        self.app = app
        self.api = api
        self.methods = methods
        self.with_run = with_run

    def __call__(self, call: HostCall) -> Any:
        method = self.methods.get(call.method)
        if method is None:
            raise HostError(f"ctx.{self.api}.{call.method} does not exist", name="TypeError")
        if not call.tenant_id:
            raise HostError(f"ctx.{self.api} needs a tenant: this run acts for none", name="TenantRequired")
        args = [call.tenant_id, *([call.run] if self.with_run else []), *call.args]
        try:
            inspect.signature(method).bind(*args)
        except TypeError:
            raise HostError(f"ctx.{self.api}.{call.method}: wrong number of arguments", name="TypeError") from None
        with self.app.app_context():
            try:
                return method(*args)
            except ValidationError as exc:
                detail = "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
                raise HostError(f"ctx.{self.api}.{call.method}: {detail}", name="ValidationError") from None
            except ServiceError as exc:
                raise HostError(f"ctx.{self.api}.{call.method}: {exc.message}", name=type(exc).__name__) from None
