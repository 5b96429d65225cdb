"""Webhooks at /hooks/<tenant-slug>/<path>: lookup, methods, token and HMAC auth, limits, responses."""

import json
import time

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Execution, Script
from portal.services import hooks
from portal.tenancy import system_scope

ECHO = """async function handler(request, ctx) {
  return {status: 201, headers: {'X-Seen': request.method, 'Set-Cookie': 'session=stolen',
                                 'Content-Security-Policy': 'default-src *'},
          body: {request, trigger: ctx.trigger.type}};
}"""


@pytest.fixture
def hook(api, client):
    """hook(source=ECHO, auth='none', methods=('POST',), path='orders/new') -> (url, secret, call, tenant)."""

    def _make(source=ECHO, auth="none", methods=("POST",), path="orders/new", role="org_admin"):
        call, tenant = api(role)
        created = call("POST", "/scripts", json={
            "name": f"Hook {path.replace('/', '-')}", "type": "http", "http_path": path,
            "http_methods": list(methods), "http_auth": auth, "source": source})
        assert created.status_code == 201, created.json
        script_id = created.json["id"]
        assert call("POST", f"/scripts/{script_id}/status", json={"status": "active"}).status_code == 200
        secret = None
        if auth != "none":
            answer = call("POST", f"/scripts/{script_id}/hook-secret")
            assert answer.status_code == 200, answer.json
            secret = answer.json["secret"]
        return f"/hooks/{tenant.slug}/{path}", secret, call, tenant

    return _make


def test_a_request_runs_the_script_and_its_answer_is_the_response(client, hook):
    url, _, _, tenant = hook()
    response = client.post(f"{url}?x=1", json={"id": 7}, headers={"Cookie": "session=portal-secret"})
    assert response.status_code == 201 and response.headers["X-Seen"] == "POST"
    assert "Set-Cookie" not in response.headers  # a script sets no cookie on the portal's origin
    assert response.headers["Content-Security-Policy"] == hooks.HOOK_CSP
    seen = response.json["request"]
    assert (seen["method"], seen["path"], seen["query"], seen["body"]) == ("POST", url, {"x": "1"}, {"id": 7})
    assert json.loads(seen["rawBody"]) == {"id": 7} and seen["ip"] == "127.0.0.1"
    assert "cookie" not in seen["headers"] and seen["headers"]["content-type"] == "application/json"
    assert response.json["trigger"] == "http"
    with system_scope():
        execution = db.session.get(Execution, response.headers["X-JSR-Execution-Id"])
        assert (execution.trigger, execution.status, execution.tenant_id) == ("http", "completed", tenant.id)


def test_any_other_value_is_json_200_and_text_bodies_are_text(client, hook):
    url, *_ = hook(source="function handler(r) { return r.body === 'hi' ? [1, 2] : {status: 202, body: 'ok'} }",
                   methods=("PUT",))
    listed = client.put(url, data="hi", content_type="text/plain")
    assert (listed.status_code, listed.json) == (200, [1, 2])
    text = client.put(url, data="other", content_type="text/plain")
    assert (text.status_code, text.data, text.mimetype) == (202, b"ok", "text/plain")


def test_wrong_method_unknown_path_paused_script_and_other_tenant(client, hook, make_tenant):
    url, _, call, tenant = hook()
    wrong = client.get(url)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert client.post(f"/hooks/{tenant.slug}/orders/other", json={}).status_code == 404
    assert client.post(f"/hooks/{make_tenant().slug}/orders/new", json={}).status_code == 404
    assert client.post("/hooks/no-such-tenant/orders/new", json={}).status_code == 404
    assert client.post(url, json={}).status_code == 201
    with system_scope():
        script_id = db.session.scalar(select(Script.id).where(Script.tenant_id == tenant.id))
    assert call("POST", f"/scripts/{script_id}/status", json={"status": "paused"}).status_code == 200
    assert client.post(url, json={}).status_code == 404  # the cached route was dropped at once


def test_token_auth(client, hook):
    url, secret, *_ = hook(auth="token", source="function handler(r) { return r }")
    assert client.post(url, json={}, headers={"X-JSR-Token": secret}).status_code == 200
    by_query = client.post(f"{url}?token={secret}&keep=1", json={})
    assert by_query.status_code == 200 and by_query.json["query"] == {"keep": "1"}
    assert "x-jsr-token" not in client.post(url, json={}, headers={"X-JSR-Token": secret}).json["headers"]
    assert client.post(url, json={}, headers={"X-JSR-Token": secret + "x"}).status_code == 401
    assert client.post(url, json={}).status_code == 401


def test_token_auth_without_a_generated_secret_admits_nobody(client, api):
    call, tenant = api("org_admin")
    script = call("POST", "/scripts", json={"name": "No secret", "type": "http", "http_path": "p",
                                            "http_methods": ["POST"], "http_auth": "token",
                                            "source": "function handler() { return 1 }"}).json
    call("POST", f"/scripts/{script['id']}/status", json={"status": "active"})
    assert client.post(f"/hooks/{tenant.slug}/p", json={}, headers={"X-JSR-Token": ""}).status_code == 401


def test_hmac_auth(client, hook):
    url, secret, call, tenant = hook(auth="hmac", source="function handler(r) { return {status: 200, body: r.body} }")
    body = b'{"amount": 10}'
    now = int(time.time())

    def send(signature, data=body):
        return client.post(url, data=data, content_type="application/json",
                           headers={"X-JSR-Signature": signature})

    assert send(hooks.sign(secret, now, body)).json == {"amount": 10}
    assert send(hooks.sign(secret, now, body), data=b'{"amount": 1000}').status_code == 401  # changed body
    assert send(hooks.sign("not-the-secret", now, body)).status_code == 401
    assert send(hooks.sign(secret, now - hooks.HMAC_TOLERANCE_S - 10, body)).status_code == 401  # stale
    assert send(f"t={now}").status_code == 401 and send("").status_code == 401
    with system_scope():
        script_id = db.session.scalar(select(Script.id).where(Script.tenant_id == tenant.id))
    rotated = call("POST", f"/scripts/{script_id}/hook-secret").json["secret"]
    assert send(hooks.sign(secret, now, body)).status_code == 401  # the former secret stopped working
    assert send(hooks.sign(rotated, now, body)).status_code == 200
    assert send(f"{hooks.sign(secret, now, body)},v1={hooks.sign(rotated, now, body).split('v1=')[1]}"
                ).status_code == 200  # several v1 values, as during a sender's own rotation


def test_hook_secret_api(client, hook, api, make_user):
    url, secret, call, tenant = hook(auth="hmac")
    with system_scope():
        script = db.session.scalar(select(Script).where(Script.tenant_id == tenant.id))
        assert secret not in script.http_secret  # stored encrypted
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == script.id)))
    assert "script.hook_secret" in actions
    viewer, _ = api("viewer", tenant)
    assert viewer("POST", f"/scripts/{script.id}/hook-secret").status_code == 403
    other = call("POST", "/scripts", json={"name": "Plain", "type": "oneoff", "source": "function main() {}"}).json
    assert call("POST", f"/scripts/{other['id']}/hook-secret").status_code == 409


def test_failures_answer_500_or_504_with_the_execution_id_and_no_internals(client, hook):
    url, *_ = hook(source="function handler(r) { if (r.body.spin) for (;;) {} throw new Error('db password xyz') }")
    failed = client.post(url, json={})
    assert failed.status_code == 500 and set(failed.json) == {"error", "execution_id"}
    assert "xyz" not in failed.get_data(as_text=True)
    with system_scope():
        assert db.session.get(Execution, failed.json["execution_id"]).status == "failed"


def test_a_hook_that_runs_out_of_time_answers_504(client, api):
    call, tenant = api("org_admin")
    script = call("POST", "/scripts", json={"name": "Slow", "type": "http", "http_path": "slow", "timeout_ms": 300,
                                            "http_methods": ["GET"], "source": "function handler() { for (;;) {} }"})
    call("POST", f"/scripts/{script.json['id']}/status", json={"status": "active"})
    answer = client.get(f"/hooks/{tenant.slug}/slow")
    assert answer.status_code == 504 and "execution_id" in answer.json


def test_an_invalid_status_is_the_scripts_error(client, hook):
    url, *_ = hook(source="function handler() { return {status: 99, body: 'x'} }")
    assert client.post(url, json={}).status_code == 500


def test_body_too_large_and_rate_limited(app, client, hook, monkeypatch):
    url, *_ = hook(source="function handler() { return 1 }")
    monkeypatch.setitem(app.config, "JSR_HOOK_BODY_BYTES", 100)
    monkeypatch.setitem(app.config, "JSR_HOOK_RATE", "3 per minute")
    assert client.post(url, data=b"x" * 100, content_type="text/plain").status_code == 200
    too_large = client.post(url, data=b"x" * 101, content_type="text/plain")
    assert too_large.status_code == 413 and "100" in too_large.json["error"]
    assert client.post(url, data=b"x", content_type="text/plain").status_code == 200
    limited = client.post(url, data=b"x", content_type="text/plain")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_malformed_json_is_400(client, hook):
    url, *_ = hook()
    assert client.post(url, data=b"{nope", content_type="application/json").status_code == 400
