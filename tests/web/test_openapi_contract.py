"""Every documented response shape is what the API actually sends: same fields, valid types."""

import pytest
from jsonschema import Draft202012Validator

from portal.services import accounts
from portal.services.rbac import Actor
from portal.web.api.openapi import openapi_document

DOCUMENT = openapi_document()


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _documented_keys(schema: dict) -> set[str]:
    schema = _resolve(schema)
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        keys |= _documented_keys(part)
    return keys


def _response_schema(path: str, method: str, status: int) -> dict:
    response = DOCUMENT["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def _check(body, schema: dict) -> None:
    """Types follow the schema ($refs resolved in the document) and no field goes undocumented."""
    resolved = _resolve(schema)
    if "items" in resolved.get("properties", {}):
        item_schema = resolved["properties"]["items"]["items"]
        for item in body["items"]:
            _check(item, item_schema)
        return
    errors = [e.message for e in Draft202012Validator(_inline(schema)).iter_errors(body)]
    assert not errors, errors
    assert set(body) == _documented_keys(schema), set(body) ^ _documented_keys(schema)


def _inline(schema):
    """The schema with every $ref replaced by its target, for a self-contained validator."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(_resolve(schema))
        return {key: _inline(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline(value) for value in schema]
    return schema


@pytest.fixture
def call(client, make_tenant, make_user):
    user = make_user(role="org_admin", tenant=make_tenant())
    secret, _ = accounts.create_token(Actor.system(), user.id, "contract")

    def _call(method, path, **kwargs):
        response = client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {secret}"},
                               **kwargs)
        return response.status_code, response.get_json()

    return _call


def test_responses_match_the_document(call, db_session):
    status, script = call("POST", "/scripts", json={"name": "Contract", "type": "oneoff",
                                                    "source": "function main(i) { console.log(i); return i }"})
    assert status == 201
    _check(script, _response_schema("/scripts", "post", 201))
    sid = script["id"]
    checks = [
        ("GET", "/scripts", "/scripts", "get", None),
        ("GET", f"/scripts/{sid}", "/scripts/{script_id}", "get", None),
        ("PATCH", f"/scripts/{sid}", "/scripts/{script_id}", "patch", {"description": "d"}),
        ("POST", f"/scripts/{sid}/status", "/scripts/{script_id}/status", "post", {"status": "active"}),
        ("GET", f"/scripts/{sid}/versions", "/scripts/{script_id}/versions", "get", None),
        ("GET", f"/scripts/{sid}/versions/1", "/scripts/{script_id}/versions/{number}", "get", None),
        ("POST", f"/scripts/{sid}/rollback", "/scripts/{script_id}/rollback", "post", {"version": 1}),
        ("POST", f"/scripts/{sid}/run", "/scripts/{script_id}/run", "post", {"input": {"a": 1}}),
        ("GET", "/executions", "/executions", "get", None),
        ("GET", "/audit", "/audit", "get", None),
    ]
    for method, url, path, verb, body in checks:
        status, payload = call(method, url, json=body) if body is not None else call(method, url)
        assert status == 200, (url, payload)
        _check(payload, _response_schema(path, verb, 200))
    status, queued = call("POST", f"/scripts/{sid}/enqueue", json={"input": 2})
    assert status == 202
    _check(queued, _response_schema("/scripts/{script_id}/enqueue", "post", 202))
    execution_id = call("GET", "/executions")[1]["items"][0]["id"]
    status, execution = call("GET", f"/executions/{execution_id}")
    _check(execution, _response_schema("/executions/{execution_id}", "get", 200))
    status, user = call("POST", "/users", json={"email": "c@example.test", "password": "long-enough",
                                                "role": "viewer"})
    assert status == 201
    _check(user, _response_schema("/users", "post", 201))
    status, token = call("POST", "/tokens", json={"user_id": user["id"], "expires_in_days": 7})
    assert status == 201
    _check(token, _response_schema("/tokens", "post", 201))
    for method, url, path, verb, body in [
            ("GET", "/users", "/users", "get", None),
            ("PATCH", f"/users/{user['id']}", "/users/{user_id}", "patch", {"role": "developer"}),
            ("GET", "/tokens", "/tokens", "get", None),
            ("DELETE", f"/tokens/{token['id']}", "/tokens/{token_id}", "delete", None)]:
        status, payload = call(method, url, json=body) if body is not None else call(method, url)
        assert status == 200, (url, payload)
        _check(payload, _response_schema(path, verb, 200))


def test_errors_match_the_document(call, db_session):
    status, error = call("POST", "/scripts", json={"name": "", "type": "oneoff", "source": "function main( {"})
    assert status == 422
    errors = list(Draft202012Validator(_inline(_response_schema("/scripts", "post", 422))).iter_errors(error))
    assert not errors and set(error) <= _documented_keys(_response_schema("/scripts", "post", 422))


def test_state_conflicts_are_409_and_documented(call, db_session):
    _, script = call("POST", "/scripts", json={"name": "Conflict", "type": "oneoff", "source": "function main() {}"})
    sid = script["id"]
    assert call("POST", f"/scripts/{sid}/status", json={"status": "archived"})[0] == 200
    answers = {"status": call("POST", f"/scripts/{sid}/status", json={"status": "paused"}),
               "run": call("POST", f"/scripts/{sid}/run", json={})}
    for operation, (status, error) in answers.items():
        assert status == 409 and error["field"] == "status", (operation, error)
    assert "409" in DOCUMENT["paths"]["/scripts/{script_id}/status"]["post"]["responses"]


def test_unsupported_methods_are_405_with_allow(client, db_session):
    response = client.put("/api/v1/scripts")
    assert response.status_code == 405 and response.get_json()["error"]
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
