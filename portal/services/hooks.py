"""Webhooks: `/hooks/<tenant-slug>/<path>` runs the tenant's active `http` script at that path.

The route lookup is cached in each process (portal/services/script_caches.py): other processes see a
change within JSR_HOOK_CACHE_S seconds.

Auth per script (the secret comes from `rotate_secret`, stored encrypted):
* `none`;
* `token`: the secret in the `X-JSR-Token` header or the `token` query parameter;
* `hmac`: `X-JSR-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (Stripe's
  scheme: several v1 values may be sent during a rotation), at most HMAC_TOLERANCE_S from now.
Secrets are compared in constant time. The script runs in the process's runner pool, recorded as an
execution with trigger `http`; what it returns becomes the response (`respond`).
"""

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import InvalidToken
from flask import current_app
from flask_babel import lazy_gettext as _l
from limits import parse
from sqlalchemy import select

from portal.extensions import db, limiter
from portal.models import Execution, Script, Tenant
from portal.models.secret import fernet_for
from portal.services import audit, executions, rbac, script_caches
from portal.services import scripts as scripts_service
from portal.services.errors import Conflict, NotFound, ServiceError, TooManyRequests
from portal.services.inputs import MAX_JSON_DEPTH, depth
from portal.services.rbac import Actor
from portal.services.scope import in_system, in_tenant
from runtime import ErrorKind

HMAC_TOLERANCE_S = 300
SIGNATURE_HEADER = "X-JSR-Signature"
TOKEN_HEADER = "X-JSR-Token"
# Never handed to the script: the portal's own session cookie, and the hook's own token.
HIDDEN_HEADERS = {"cookie", TOKEN_HEADER.lower()}
# Response headers a script may not set: framing of the HTTP exchange, cookies on the portal's origin,
# and the security headers (a hook's answer is sandboxed, see HOOK_CSP).
REFUSED_HEADERS = {"set-cookie", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                   "trailer", "te", "content-security-policy", "x-frame-options", "x-content-type-options",
                   "referrer-policy", "strict-transport-security"}
# A hook answers on the portal's origin: whatever HTML a script returns runs in an opaque origin,
# with no script and no access to the portal or its cookies.
HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")  # an RFC 9110 token
HOOK_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"


class Unauthorized(ServiceError):
    status = 401

    def __init__(self):
        super().__init__(_l("The webhook's credentials are missing or wrong."))


class MethodNotAllowed(ServiceError):
    status = 405

    def __init__(self, allowed: list[str]):
        super().__init__(_l("This method is not allowed here."))
        self.headers = {"Allow": ", ".join(allowed)}


class PayloadTooLarge(ServiceError):
    status = 413

    def __init__(self, limit: int):
        super().__init__(_l("The request body is larger than %(limit)s bytes.", limit=limit))


class BadBody(ServiceError):
    status = 400

    def __init__(self):
        super().__init__(_l("The request body is not valid JSON."))


@dataclass(frozen=True)
class Route:
    tenant_id: str
    script_id: str
    methods: tuple[str, ...]
    auth: str
    secret: str | None  # the Fernet token, decrypted per request


@dataclass
class HookResponse:
    status: int
    headers: dict[str, str]
    body: bytes


# -- route lookup, cached -----------------------------------------------------------------
def route(slug: str, path: str) -> Route:
    """The active http script of an active tenant at `path`, or NotFound (also for paused scripts)."""
    found = script_caches.cached("hook-routes", (slug, path), lambda: _load(slug, path))
    if found is None:
        raise NotFound()
    return found


@in_system
def _load(slug: str, path: str) -> Route | None:
    row = db.session.execute(
        select(Script.id, Script.tenant_id, Script.http_methods, Script.http_auth, Script.http_secret)
        .join(Tenant, Tenant.id == Script.tenant_id)
        .where(Tenant.slug == slug, Tenant.active.is_(True), Script.http_path == path, Script.type == "http",
               Script.status == "active")).first()
    db.session.commit()  # end the read transaction
    if row is None:
        return None
    return Route(tenant_id=row.tenant_id, script_id=row.id, methods=tuple(sorted(row.http_methods or ())),
                 auth=row.http_auth, secret=row.http_secret)


# -- secrets ------------------------------------------------------------------------------
@in_tenant
def rotate_secret(actor: Actor, tenant_id: str, script_id: str) -> str:
    """Generate the script's hook secret (replacing any former one); the plaintext is returned once."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE, tenant_id)
    script = scripts_service.get(actor, tenant_id, script_id)
    if script.type != "http":
        raise Conflict(_l("Only an HTTP script has a webhook secret."), field="type")
    plaintext = secrets.token_urlsafe(32)
    rotated = script.http_secret is not None
    script.set_http_secret(plaintext, current_app.config["JSR_SECRETS_KEY"])
    audit.record(actor, "script.hook_secret", tenant_id=tenant_id, target_type="script", target_id=script.id,
                 summary="hook secret rotated" if rotated else "hook secret created")
    db.session.commit()
    return plaintext


# -- a request -----------------------------------------------------------------------------
def check_method(found: Route, method: str) -> None:
    allowed = set(found.methods) | ({"HEAD"} if "GET" in found.methods else set())
    if method not in allowed:
        raise MethodNotAllowed(sorted(allowed))


def count(found: Route) -> None:
    """JSR_HOOK_RATE: requests per script, counted in the limiter's storage (Redis when REDIS_URL is set)."""
    rate = parse(current_app.config["JSR_HOOK_RATE"])
    if not limiter.limiter.hit(rate, "hooks", found.script_id):
        raise TooManyRequests(_l("Too many requests to this webhook; wait a moment and try again."),
                              retry_after=rate.get_expiry())


def authenticate(found: Route, headers: dict[str, str], query: dict[str, str], raw_body: bytes,
                 now: float | None = None) -> None:
    if found.auth == "none":
        return
    secret = _secret(found)
    if secret is None:
        raise Unauthorized()  # token or hmac required, and no secret was ever generated: nobody gets in
    if found.auth == "token":
        given = headers.get(TOKEN_HEADER.lower()) or query.get("token") or ""
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise Unauthorized()
        return
    if not verify_signature(secret, headers.get(SIGNATURE_HEADER.lower(), ""), raw_body, now or time.time()):
        raise Unauthorized()


def _secret(found: Route) -> str | None:
    if found.secret is None:
        return None
    try:
        return fernet_for(current_app.config["JSR_SECRETS_KEY"]).decrypt(found.secret.encode()).decode()
    except InvalidToken:
        return None  # encrypted under another key: refused, as if missing


def sign(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The header value a sender computes (tests, the README's example)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, raw_body)}"


def _mac(secret: str, timestamp: int | str, raw_body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str, raw_body: bytes, now: float) -> bool:
    parts = [item.strip().partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in parts if key == "t"]
    signatures = [value for key, _, value in parts if key == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return False
    if abs(now - int(stamps[0])) > HMAC_TOLERANCE_S:
        return False
    expected = _mac(secret, stamps[0], raw_body).encode()
    return any(hmac.compare_digest(expected, value.encode()) for value in signatures)


def request_object(found: Route, *, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                   raw_body: bytes, content_type: str, ip: str | None) -> dict[str, Any]:
    """What the handler gets: {method, path, query, headers, body, rawBody, ip}; JSON bodies parsed."""
    raw_text = raw_body.decode("utf-8", errors="replace")
    body: Any = raw_text if raw_body else None
    mimetype = content_type.split(";")[0].strip().lower()
    if raw_body and (mimetype == "application/json" or mimetype.endswith("+json")):
        try:
            body = json.loads(raw_text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise BadBody() from None
        if depth(body) > MAX_JSON_DEPTH:
            raise BadBody()
    if found.auth == "token":
        query = {key: value for key, value in query.items() if key != "token"}
    return {"method": method, "path": path, "query": query,
            "headers": {name: value for name, value in headers.items() if name not in HIDDEN_HEADERS},
            "body": body, "rawBody": raw_text, "ip": ip}


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def run(found: Route, request: dict[str, Any]) -> tuple[Execution, HookResponse]:
    """Run the script for this request (recorded as an execution) and map its result to a response."""
    execution = executions.run_now(Actor.system(), found.tenant_id, found.script_id, request, trigger="http")
    return execution, respond(execution)


def respond(execution: Execution) -> HookResponse:
    """The handler's `{status, headers, body}` (or any other value, as JSON 200) as an HTTP response.

    A failed run answers 500 (504 when it timed out, 429 when no runner was free) with the execution id
    and no internals; so does a `status` outside 200–599."""
    if execution.status != "completed":
        kind = (execution.error or {}).get("kind")
        if kind == ErrorKind.BUSY.value:
            return _error(429, _l("The webhook is busy; try again in a moment."), execution, {"Retry-After": "1"})
        if execution.status == "timeout":
            return _error(504, _l("The webhook's script ran out of time."), execution)
        return _error(500, _l("The webhook's script failed."), execution)
    output = execution.output
    if not (isinstance(output, dict) and isinstance(output.get("status"), int)
            and not isinstance(output["status"], bool)):
        return HookResponse(200, {"Content-Type": "application/json"}, _json_bytes(output))
    if not 200 <= output["status"] <= 599:
        return _error(500, _l("The webhook's script answered an invalid HTTP status."), execution)
    headers = _headers(output.get("headers"))
    lowered = {name.lower() for name in headers}
    body = output.get("body")
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode()
        if "content-type" not in lowered:
            headers["Content-Type"] = "text/plain; charset=utf-8"
    else:
        data = _json_bytes(body)
        if "content-type" not in lowered:
            headers["Content-Type"] = "application/json"
    return HookResponse(output["status"], headers, data)


def _headers(given: Any) -> dict[str, str]:
    """The script's response headers that it may set, with text values on one line."""
    if not isinstance(given, dict):
        return {}
    return {name: str(value) for name, value in given.items()
            if isinstance(name, str) and HEADER_NAME_RE.match(name) and name.lower() not in REFUSED_HEADERS
            and isinstance(value, str | int | float) and not isinstance(value, bool)
            and not set("\r\n\0") & set(str(value))}


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _error(status: int, message: Any, execution: Execution, headers: dict[str, str] | None = None) -> HookResponse:
    body = {"error": str(message), "execution_id": execution.id}
    return HookResponse(status, {"Content-Type": "application/json", **(headers or {})}, _json_bytes(body))
