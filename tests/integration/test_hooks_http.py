"""Webhooks served by a real HTTP server on 127.0.0.1: a signed request as a sender would make it."""

import json
import time
import urllib.error
import urllib.request

from portal.services import accounts, hooks
from portal.services.rbac import Actor
from tests.integration.conftest import call


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_signed_webhook_over_http(server, db_session, make_tenant, make_user):
    tenant = make_tenant()
    token, _ = accounts.create_token(Actor.system(), make_user(role="org_admin", tenant=tenant).id, "hooks")
    status, script = call(server, "POST", "/api/v1/scripts", token, {
        "name": "Signed", "type": "http", "http_path": "payments", "http_methods": ["POST"], "http_auth": "hmac",
        "source": "async function handler(r) { return {status: 202, body: {paid: r.body.amount}} }"})
    assert status == 201, script
    assert call(server, "POST", f"/api/v1/scripts/{script['id']}/status", token, {"status": "active"})[0] == 200
    status, answer = call(server, "POST", f"/api/v1/scripts/{script['id']}/hook-secret", token)
    assert status == 200
    body = b'{"amount": 12.5}'
    url = f"{server}/hooks/{tenant.slug}/payments"
    signature = hooks.sign(answer["secret"], int(time.time()), body)
    assert _post(url, body, {"X-JSR-Signature": signature}) == (202, {"paid": 12.5})
    assert _post(url, b'{"amount": 0}', {"X-JSR-Signature": signature})[0] == 401
