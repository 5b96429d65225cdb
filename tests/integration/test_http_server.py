"""The portal served by a real HTTP server on 127.0.0.1, driven over the network."""

import json
import urllib.error
import urllib.request

import pytest

from portal.services import accounts
from portal.services.rbac import Actor
from tests.integration.conftest import SERVERS, served


@pytest.fixture(params=sorted(SERVERS))
def server(request, app, tmp_path):
    with served(app, tmp_path, request.param) as base:
        yield base


def _call(base, method, path, token=None, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={
        "content-type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {}),
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_api_over_http(server, db_session, make_tenant, make_user):
    user = make_user(role="developer", tenant=make_tenant())
    token, _ = accounts.create_token(Actor.system(), user.id, "http-test")
    assert _call(server, "GET", "/healthz") == (200, {"status": "ok"})
    assert _call(server, "GET", "/api/v1/scripts")[0] == 401
    status, created = _call(server, "POST", "/api/v1/scripts", token, {
        "name": "Over HTTP", "type": "oneoff", "source": "function main(i) { console.log('hi'); return i.n + 1 }"})
    assert status == 201, created
    status, execution = _call(server, "POST", f"/api/v1/scripts/{created['id']}/run", token, {"input": {"n": 41}})
    assert status == 200 and execution["output"] == 42 and execution["logs"][0]["message"] == "hi"
    status, error = _call(server, "POST", "/api/v1/scripts", token, {"name": "x", "type": "oneoff",
                                                                      "source": "function main( {"},
                          headers={"Accept-Language": "uz"})
    assert status == 422 and "source" in error["fields"]
