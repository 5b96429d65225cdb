"""ctx.http / fetchV2 against a real HTTP server on 127.0.0.1, through runner processes."""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from runtime import ErrorKind
from runtime.host.geolocation import GeolocationHandler
from runtime.host.http import HttpHandler
from runtime.ssrf import AddressPolicy, system_resolver


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # socketserver listens with 5: parallel calls would wait for SYN retries (1 s)

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.inflight = self.max_inflight = 0
        self.requests: list[dict] = []
        self.release = threading.Event()  # /hold answers once this is set (or after 10 s)
        self.held_answered = 0

    def handle_error(self, request, client_address):
        """A client that gave up (a timed-out call) is expected here; anything else is shown."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def port(self) -> int:
        return self.server_address[1]


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "application/json", **headers: str):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else None
        seen = {"method": self.command, "path": url.path, "body": body,
                "headers": {k.lower(): v for k, v in self.headers.items()}}
        with self.server.lock:
            self.server.requests.append(seen)
            self.server.inflight += 1
            self.server.max_inflight = max(self.server.max_inflight, self.server.inflight)
        try:
            if url.path == "/slow":
                time.sleep(int(query["ms"]) / 1000)
                self._answer(200, b'{"slow":true}')
            elif url.path == "/hold":
                self.server.release.wait(10)
                with self.server.lock:
                    self.server.held_answered += 1
                self._answer(200, b'{"held":true}')
            elif url.path.startswith("/redirect/"):
                left = int(url.path.rsplit("/", 1)[1])  # redirects still to come
                self._answer(302, b"", location=f"/redirect/{left - 1}" if left > 1 else "/echo")
            elif url.path == "/redirect-to":
                self._answer(int(query.get("status", 302)), b"", location=query["url"])
            elif url.path == "/big":
                self._answer(200, b"x" * int(query["bytes"]), "text/plain")
            elif url.path == "/text":
                self._answer(int(query.get("status", 200)), "plain ✓".encode(), "text/plain; charset=utf-8")
            else:
                self._answer(int(query.get("status", 200)), json.dumps(seen).encode(),
                             "application/json; charset=utf-8", x_multi="a")
        finally:
            with self.server.lock:
                self.server.inflight -= 1

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join()


@pytest.fixture
def allow(host, server):
    """Register ctx.http with the test server allowed: allow(**handler_options) -> base URL."""
    def _allow(resolver=system_resolver, **options):
        policy = AddressPolicy.from_setting(f"127.0.0.1:{server.port}", resolver)
        host.register("http", HttpHandler(policy, **options))
        return f"http://127.0.0.1:{server.port}"
    return _allow


def script(body: str) -> str:
    return f"async function main(input, ctx) {{\n  try {{\n{body}\n  }} catch (e) {{ return {{error: e.name + ': ' " \
           f"+ e.message}}; }}\n}}\n"


def test_get_parses_json_and_lower_cases_headers(run, allow):
    base = allow()
    result = run(script("const r = await ctx.http.get(input + '/echo?x=1', {headers: {'X-Token': 'abc'}});\n"
                        "return r;"), input=base)
    assert result.ok, result.error
    out = result.output
    assert out["status"] == 200 and out["url"] == f"{base}/echo?x=1"
    assert out["headers"]["content-type"].startswith("application/json") and out["headers"]["x-multi"] == "a"
    assert out["body"]["method"] == "GET" and out["body"]["headers"]["x-token"] == "abc"
    assert out["body"]["headers"]["host"] == base.removeprefix("http://")


def test_post_object_body_is_sent_as_json(run, allow):
    base = allow()
    result = run(script("return (await ctx.http.post(input + '/echo', {body: {a: 1}})).body;"), input=base)
    assert result.output["body"] == '{"a":1}'
    assert result.output["headers"]["content-type"] == "application/json"


def test_text_body_and_error_statuses_resolve(run, allow):
    base = allow()
    result = run(script("const r = await fetchV2(input + '/text?status=503');\n"
                        "const j = await ctx.http.request(input + '/echo?status=404', {method: 'DELETE'});\n"
                        "return [r.status, r.body, j.status, j.body.method];"), input=base)
    assert result.output == [503, "plain ✓", 404, "DELETE"]


def test_loopback_is_blocked_without_the_allow_setting(run, host, server):
    host.register("http", HttpHandler(AddressPolicy()))
    result = run(script("return await ctx.http.get(input);"), input=f"http://127.0.0.1:{server.port}/echo")
    assert result.output == {"error": "HttpError: blocked request to non-public address: 127.0.0.1"}
    assert server.requests == []


def test_other_ports_of_an_allowed_host_stay_blocked(run, allow, server):
    allow()
    result = run(script("return await ctx.http.get(input);"), input=f"http://127.0.0.1:{server.port + 1}/")
    assert result.output == {"error": "HttpError: blocked request to non-public address: 127.0.0.1"}


def test_timeout_option_ends_a_slow_call(run, allow):
    base = allow()
    result = run(script("return await ctx.http.get(input + '/slow?ms=3000', {timeout: 100});"), input=base)
    assert result.output == {"error": "HttpError: the request to 127.0.0.1 timed out"}


def test_a_call_never_outlasts_the_run_deadline(run, allow, server):
    base = allow()
    result = run("async function main(input, ctx) { return await ctx.http.get(input + '/hold'); }",
                 input=base, timeout_ms=300)
    # The run ended while the server still held the request: the call gave up at the deadline.
    assert server.held_answered == 0
    assert result.error.kind is ErrorKind.TIMEOUT or str(result.error) == (
        "HttpError: the request to 127.0.0.1 timed out")


def test_redirects_are_followed_up_to_five(run, allow):
    base = allow()
    result = run(script("const r = await ctx.http.get(input + '/redirect/5');\nreturn [r.status, r.url];"),
                 input=base)
    assert result.output == [200, f"{base}/echo"]
    result = run(script("return await ctx.http.get(input + '/redirect/6');"), input=base)
    assert result.output == {"error": "HttpError: too many redirects (more than 5)"}


@pytest.mark.parametrize("location", ["http://169.254.169.254/latest/meta-data/", "http://[::1]/",
                                      "http://127.0.0.1:1/"])
def test_a_redirect_to_a_private_address_is_refused(run, allow, server, location):
    base = allow()
    result = run(script("return await ctx.http.get(input);"),
                 input=f"{base}/redirect-to?url={location}")
    assert result.output["error"].startswith("HttpError: redirect refused: blocked request to non-public address")
    assert [r["path"] for r in server.requests] == ["/redirect-to"]


def test_a_303_turns_post_into_get(run, allow):
    base = allow()
    result = run(script("return (await ctx.http.post(input, {body: 'x'})).body;"),
                 input=f"{base}/redirect-to?status=303&url=/echo")
    assert result.output["method"] == "GET" and result.output["body"] is None


def test_credentials_are_dropped_on_a_cross_origin_redirect(run, allow, server):
    names = {"api.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    allow(resolver=lambda host, port: names[host])
    result = run(script("return (await ctx.http.get(input, {headers: {authorization: 'Bearer s', 'x-keep': '1'}}))"
                        ".body.headers;"),
                 input=f"http://api.test:{server.port}/redirect-to?url=http://other.test:{server.port}/echo")
    assert result.output["host"] == f"other.test:{server.port}"
    assert "authorization" not in result.output and result.output["x-keep"] == "1"


def test_the_response_size_is_capped(run, allow):
    base = allow(max_bytes=1000)
    ok = run(script("return (await ctx.http.get(input + '/big?bytes=1000')).body.length;"), input=base)
    assert ok.output == 1000
    result = run(script("return await ctx.http.get(input + '/big?bytes=200000');"), input=base)
    assert result.output == {"error": "HttpError: the response from 127.0.0.1 is larger than 1000 bytes"}


def test_dns_rebinding_finds_the_checked_address(run, allow, server):
    """The name is resolved once: a second answer pointing elsewhere is never used."""
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    lookups = []

    def rebinding(host, port):
        lookups.append(host)
        return next(answers)

    allow(resolver=rebinding)
    result = run(script("return (await ctx.http.get(input)).body.headers.host;"),
                 input=f"http://rebind.test:{server.port}/echo")
    assert result.output == f"rebind.test:{server.port}"
    assert lookups == ["rebind.test"]


def test_a_private_first_answer_is_refused_whatever_a_later_lookup_says(run, allow, server):
    answers = iter([["10.9.9.9"], ["127.0.0.1"]])
    allow(resolver=lambda host, port: next(answers))
    result = run(script("return await ctx.http.get(input);"), input=f"http://rebind.test:{server.port}/echo")
    assert result.output == {"error": "HttpError: blocked request to non-public address: 10.9.9.9"}
    assert server.requests == []


def test_proxy_settings_of_the_environment_do_not_apply(run, allow, server, monkeypatch):
    proxy = Server()
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
        base = allow()
        result = run(script("return (await ctx.http.get(input + '/echo')).status;"), input=base)
        assert result.output == 200
        assert proxy.requests == [] and len(server.requests) == 1
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


def test_parallel_calls_are_served_concurrently(run, allow, server):
    base = allow()
    result = run("async function main(input, ctx) {\n"
                 "  const calls = Array.from({length: 10}, () => ctx.http.get(input + '/slow?ms=200'));\n"
                 "  return (await Promise.all(calls)).map(r => r.status);\n}", input=base)
    assert result.output == [200] * 10
    # Served one at a time, at most one request would ever be in flight at the server.
    assert server.max_inflight > 1


@pytest.mark.parametrize(("call", "message"), [
    ("ctx.http.get()", "HttpError: fetch url is required"),
    ("fetchV2('')", "HttpError: fetch url is required"),
    ("ctx.http.request(input, {method: 'TRACE'})", "HttpError: unsupported HTTP method 'TRACE'"),
    ("ctx.http.get(input, {headers: {host: 'evil'}})", "HttpError: the host header is set by the runtime"),
    ("ctx.http.get(input, {headers: {a: 'x\\r\\nb: y'}})",
     "HttpError: the value of header 'a' must be a string without line breaks"),
    ("ctx.http.get(input, {timeout: -1})", "HttpError: timeout must be a positive number of milliseconds"),
    ("ctx.http.get('ftp://example.com/')", "HttpError: only http and https URLs are allowed, not 'ftp'"),
])
def test_bad_calls_are_clear_catchable_errors(run, allow, call, message):
    base = allow()
    result = run(script(f"return await {call};"), input=base + "/echo")
    assert result.output == {"error": message}


def test_fetch_resolves_to_the_json_body_whatever_the_status_and_error_otherwise(run, allow):
    base = allow()
    result = run("async function main(input) {\n"
                 "  return [(await fetch(input + '/echo?status=404')).method, await fetch(input + '/text'),\n"
                 "          await fetch('http://10.0.0.1/'),\n"
                 "          await fetch(input + '/echo', {method: 'POST', body: 'x'})];\n"
                 "}", input=base)
    assert result.output[0] == "GET" and result.output[1:3] == ["ERROR", "ERROR"]
    assert result.output[3]["method"] == "POST" and result.output[3]["body"] == "x"


def test_fetch_v2_resolves_every_status_and_rejects_with_a_message(run, allow):
    base = allow()
    result = run("async function main(input) {\n"
                 "  const r = await fetchV2(input + '/text?status=500');\n"
                 "  const j = await fetchV2(input + '/echo');\n"
                 "  let failure;\n"
                 "  try { await fetchV2('http://169.254.169.254/'); } catch (e) { failure = e.message; }\n"
                 "  return [r.status, r.body, r.headers['content-type'], j.body.method, failure];\n}", input=base)
    assert result.output == [500, "plain ✓", "text/plain; charset=utf-8", "GET",
                             "blocked request to non-public address: 169.254.169.254"]


def test_each_call_is_recorded_with_host_and_status_but_no_path(run, allow):
    base = allow()
    result = run(script("await ctx.http.get(input + '/echo?token=abc123', {headers: {'x-api-key': 'k-999'}});\n"
                        "await ctx.http.get(input + '/text?status=503');\n"
                        "return await ctx.http.get('http://10.1.1.1/private');"), input=base)
    records = result.host_call_timings
    assert [(r["api"], r["method"], r["target"], r["status"], r["ok"]) for r in records] == [
        ("http", "get", "127.0.0.1", 200, True), ("http", "get", "127.0.0.1", 503, True),
        ("http", "get", "10.1.1.1", None, False)]
    assert all(r["bytes"] > 0 and r["ms"] >= 0 for r in records)
    assert "abc123" not in str(records) and "k-999" not in str(records) and "private" not in str(records)


def test_the_tenant_outbound_rate_is_a_clear_error(run, host, server):
    asked = []

    def admit(tenant_id):
        asked.append(tenant_id)
        return False

    policy = AddressPolicy.from_setting(f"127.0.0.1:{server.port}")
    host.register("http", HttpHandler(policy, admit=admit))
    result = run(script("return await ctx.http.get(input);"), input=f"http://127.0.0.1:{server.port}/echo",
                 tenant="tenant-r")
    assert result.output == {"error": "RateLimitExceeded: this tenant's outbound HTTP rate is spent; try again in "
                                      "a minute"}
    assert asked == ["tenant-r"] and server.requests == []


def test_geolocation_asks_the_configured_service(run, host, server):
    host.register("geolocation", GeolocationHandler(f"http://127.0.0.1:{server.port}"))
    result = run("async function main() {\n"
                 "  const out = [(await geolocation('1.2.3.4')).path];\n"
                 "  for (const ip of [undefined, 'not-an-ip']) {\n"
                 "    try { await geolocation(ip); } catch (e) { out.push(e.message); }\n"
                 "  }\n  return out;\n}")
    assert result.output == ["/geoip/1.2.3.4", "ip address is required", "invalid ip address"]
    assert server.requests[0]["path"] == "/geoip/1.2.3.4"


def test_geolocation_rejects_clearly_without_a_service_or_on_a_bad_status(run, host, server):
    host.register("geolocation", GeolocationHandler(None))
    source = "async function main() { try { return await geolocation('1.2.3.4'); } catch (e) { return e.message; } }"
    assert run(source).output == "geolocation is not available right now"
    host.register("geolocation", GeolocationHandler(f"http://127.0.0.1:{server.port}/text?status=503&x="))
    assert run(source).output == "request to fetch geolocation failed with status code: 503"
