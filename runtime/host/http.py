"""`ctx.http.*` and `fetchV2`: outbound HTTP under the address policy of runtime/ssrf.py.

Each hop (the first request and every redirect) is checked by the policy, which resolves
the name once; the connection goes to that checked address, with the URL's host in the
Host header and in TLS (SNI and certificate check). urllib3 is used directly: it reads no
proxy from the environment, so HTTP(S)_PROXY cannot send a script's request elsewhere.
The response is read in chunks against a byte cap and against the call's time budget,
which never exceeds what is left of the run's wall-clock deadline.

Script-facing form: `ctx.http.get(url, {headers, body, timeout})` (timeout in ms) and
`ctx.http.request(url, {method, headers, body, timeout})` resolve to
`{url, status, headers, body}` for every status; headers are lower-case, the body is
parsed when the content type says JSON and text otherwise.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from runtime.host import HostCall, HostError
from runtime.ssrf import AddressPolicy, BlockedRequest, Target

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
REDIRECTS = (301, 302, 303, 307, 308)
# Set by the runtime from the checked target and the body: a script may not choose them.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_CHUNK = 64 * 1024


def http_error(message: str, status: int | None = None) -> HostError:
    return HostError(message, name="HttpError", status=status)


@dataclass(frozen=True)
class HttpHandler:
    """The host handler for the `http` API; register it as `registry.register("http", handler)`.

    `admit(tenant_id)` is the per-tenant outbound rate (the portal's, shared across processes
    through Redis when configured): it says whether one more call may go out now.
    """

    policy: AddressPolicy
    max_bytes: int = 5 * 1024 * 1024
    default_timeout_ms: int = 10_000
    max_redirects: int = 5
    admit: Callable[[str], bool] | None = None

    def __call__(self, call: HostCall) -> dict[str, Any]:
        url, options = _arguments(call.args)
        if self.admit is not None and not self.admit(call.tenant_id):
            raise HostError("this tenant's outbound HTTP rate is spent; try again in a minute",
                            name="RateLimitExceeded", status=429)
        if call.method == "request":
            method = str(options.get("method") or "GET").upper()
        else:
            method = call.method.upper()
        if method not in METHODS:
            raise http_error(f"unsupported HTTP method {method[:20]!r}")
        headers, body = _headers(options.get("headers")), _body(options.get("body"))
        if body is not None and not isinstance(options.get("body"), str) and "content-type" not in headers:
            headers["content-type"] = "application/json"
        budget = min(_timeout_ms(options.get("timeout"), self.default_timeout_ms) / 1000, call.remaining)
        return self.fetch(url, method, headers, body, time.monotonic() + budget)

    def fetch(self, url: str, method: str, headers: dict[str, str], body: bytes | None,
              deadline: float) -> dict[str, Any]:
        """Send the request, following up to `max_redirects` redirects, each checked again."""
        try:
            target = self.policy.check(url)
        except BlockedRequest as exc:
            raise http_error(str(exc)) from None
        for _ in range(self.max_redirects + 1):
            response = self._send(target, method, headers, body, deadline)
            location = response.headers.get("location")
            if response.status not in REDIRECTS or not location:
                return self._read(target, response, deadline)
            response.drain_conn()
            response.release_conn()
            try:
                following = self.policy.check(urljoin(target.url.url, location))
            except BlockedRequest as exc:
                raise http_error(f"redirect refused: {exc}") from None
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
                headers = {k: v for k, v in headers.items() if k != "content-type"}
            if following.origin != target.origin:
                headers = {k: v for k, v in headers.items() if k not in _CREDENTIAL_HEADERS}
            target = following
        raise http_error(f"too many redirects (more than {self.max_redirects})")

    def _send(self, target: Target, method: str, headers: dict[str, str], body: bytes | None,
              deadline: float) -> urllib3.BaseHTTPResponse:
        left = _left(deadline)
        timeout = urllib3.Timeout(connect=left, read=left)
        if target.scheme == "https":
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                target.address, target.port, maxsize=1, retries=False, timeout=timeout,
                server_hostname=target.host, assert_hostname=target.host, cert_reqs="CERT_REQUIRED")
        else:
            pool = urllib3.HTTPConnectionPool(target.address, target.port, maxsize=1, retries=False, timeout=timeout)
        try:
            return pool.urlopen(method, target.request_target, body=body,
                                headers={**headers, "host": target.host_header},
                                redirect=False, retries=False, preload_content=False, assert_same_host=False)
        except Urllib3Error as exc:
            raise _network_error(target, exc) from None
        finally:
            pool.close()

    def _read(self, target: Target, response: urllib3.BaseHTTPResponse, deadline: float) -> dict[str, Any]:
        chunks, size = [], 0
        try:
            while True:
                sock = getattr(response.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(_left(deadline))
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    raise http_error(f"the response from {target.host} is larger than {self.max_bytes} bytes")
                chunks.append(chunk)
        except Urllib3Error as exc:
            raise _network_error(target, exc) from None
        finally:
            response.release_conn()
        headers: dict[str, str] = {}
        for name, value in response.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return {"url": target.url.url, "status": response.status, "headers": headers,
                "body": _decoded(b"".join(chunks), headers.get("content-type", ""))}


def _arguments(args: list[Any]) -> tuple[str, dict[str, Any]]:
    if not args or not isinstance(args[0], str) or not args[0]:
        raise http_error("fetch url is required")
    options = args[1] if len(args) > 1 and args[1] is not None else {}
    if not isinstance(options, dict):
        raise http_error("the options of an HTTP call must be an object")
    return args[0], options


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise http_error("headers must be an object of strings")
    headers = {}
    for name, value in raw.items():
        key = name.lower()
        if key in _RESERVED_HEADERS:
            raise http_error(f"the {key} header is set by the runtime")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or any(ch in value or ch in key for ch in "\r\n\0"):
            raise http_error(f"the value of header {name[:100]!r} must be a string without line breaks")
        headers[key] = value
    return headers


def _body(raw: Any) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogatepass")
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode()


def _timeout_ms(raw: Any, default: int) -> float:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise http_error("timeout must be a positive number of milliseconds")
    return min(float(raw), default)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise http_error("the HTTP call ran out of time")
    return left


def _network_error(target: Target, exc: Exception) -> HostError:
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return http_error(f"the request to {target.host} timed out")
    if isinstance(exc, urllib3.exceptions.SSLError):
        return http_error(f"TLS with {target.host} failed")
    return http_error(f"the request to {target.host} failed: {type(exc).__name__}")


def _decoded(data: bytes, content_type: str) -> Any:
    text = data.decode("utf-8", "replace")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
