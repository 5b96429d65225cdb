"""The JSON API end to end through the Flask test client (bearer tokens)."""

import re

SOURCE = "function main(input) {\n  return {echo: input};\n}\n"


def test_requires_authentication(client, db_session):
    response = client.get("/api/v1/scripts")
    assert response.status_code == 401 and "Bearer" in response.get_json()["error"]
    bad = client.get("/api/v1/scripts", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_script_crud_versions_rollback_and_run(api, db_session):
    call, _ = api()
    created = call("POST", "/scripts", json={"name": "Echo", "type": "oneoff", "source": SOURCE})
    assert created.status_code == 201, created.get_json()
    script_id = created.get_json()["id"]
    assert call("GET", f"/scripts/{script_id}").get_json()["source"] == SOURCE
    changed = call("PATCH", f"/scripts/{script_id}", json={"source": SOURCE.replace("echo", "said")})
    assert changed.get_json()["version"] == 2
    versions = call("GET", f"/scripts/{script_id}/versions").get_json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert call("GET", f"/scripts/{script_id}/versions/1").get_json()["source"] == SOURCE
    rolled = call("POST", f"/scripts/{script_id}/rollback", json={"version": 1}).get_json()
    assert rolled["version"] == 3 and rolled["source"] == SOURCE
    run = call("POST", f"/scripts/{script_id}/run", json={"input": {"n": 1}})
    body = run.get_json()
    assert run.status_code == 200 and body["status"] == "completed" and body["output"] == {"echo": {"n": 1}}
    listed = call("GET", f"/executions?script_id={script_id}&status=completed").get_json()["items"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert call("GET", f"/executions/{body['id']}").get_json()["script_version"] == 3
    assert call("POST", f"/scripts/{script_id}/status", json={"status": "active"}).get_json()["status"] == "active"
    assert call("DELETE", f"/scripts/{script_id}").status_code == 204
    assert call("GET", f"/scripts/{script_id}").status_code == 404


def test_validation_errors_are_per_field(api, db_session):
    call, _ = api()
    response = call("POST", "/scripts", json={"name": "", "type": "scheduled", "source": "function main( {",
                                              "cron_expression": "nope"})
    body = response.get_json()
    assert response.status_code == 422
    assert {"name", "source", "cron_expression"} <= set(body["fields"])
    assert body["source_line"] == 1 and call("GET", "/scripts").get_json()["items"] == []


def test_malformed_json(api, db_session):
    call, _ = api()
    response = call("POST", "/scripts", data="{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "The request body is not valid JSON."
    listed = call("GET", "/executions?limit=abc")
    assert listed.status_code == 422 and "limit" in listed.get_json()["fields"]


def test_errors_are_translated(api, db_session):
    call, _ = api()
    response = call("POST", "/scripts", data="{", content_type="application/json",
                    headers={"Accept-Language": "ru"})
    assert response.status_code == 400 and response.get_json()["error"] != "The request body is not valid JSON."


def test_duplicate_name_conflicts(api, db_session):
    call, _ = api()
    payload = {"name": "Same", "type": "oneoff", "source": SOURCE}
    assert call("POST", "/scripts", json=payload).status_code == 201
    again = call("POST", "/scripts", json=payload)
    assert again.status_code == 422 and "name" in again.get_json()["fields"]


def test_cross_tenant_access_is_not_found(api, db_session):
    alice, _ = api()
    bob, _ = api()
    script_id = alice("POST", "/scripts", json={"name": "Mine", "type": "oneoff", "source": SOURCE}).get_json()["id"]
    assert bob("GET", f"/scripts/{script_id}").status_code == 404
    assert bob("PATCH", f"/scripts/{script_id}", json={"description": "x"}).status_code == 404
    assert bob("POST", f"/scripts/{script_id}/run", json={}).status_code == 404
    assert bob("DELETE", f"/scripts/{script_id}").status_code == 404
    assert bob("GET", "/scripts").get_json()["items"] == []


def test_unknown_tenant(api, db_session):
    call, _ = api()
    assert call("GET", "/scripts?tenant=no-such-tenant").status_code == 404


def test_viewer_token_is_read_only(api, db_session, make_user):
    admin, tenant = api()
    script_id = admin("POST", "/scripts", json={"name": "Job", "type": "oneoff", "source": SOURCE}).get_json()["id"]
    viewer, _ = api(role="viewer", tenant=tenant)
    assert viewer("GET", f"/scripts/{script_id}").status_code == 200
    assert viewer("POST", f"/scripts/{script_id}/run", json={}).status_code == 403
    assert viewer("PATCH", f"/scripts/{script_id}", json={"description": "x"}).status_code == 403
    developer, _ = api(role="developer", tenant=tenant)
    assert developer("DELETE", f"/scripts/{script_id}").status_code == 403
    assert developer("POST", f"/scripts/{script_id}/run", json={}).status_code == 200


def test_openapi_matches_the_routes(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {(path, method.upper()) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}
    implemented = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            implemented |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == implemented


def test_audit_trail_for_admins_only(api, db_session):
    admin, tenant = api()
    script_id = admin("POST", "/scripts", json={"name": "Job", "type": "oneoff", "source": SOURCE}).get_json()["id"]
    admin("PATCH", f"/scripts/{script_id}", json={"description": "changed"})
    admin("POST", f"/scripts/{script_id}/run", json={})
    trail = admin("GET", f"/audit?target_id={script_id}").get_json()["items"]
    assert [e["action"] for e in trail] == ["script.run", "script.update", "script.create"]
    assert "description" in trail[1]["summary"]
    developer, _ = api(role="developer", tenant=tenant)
    assert developer("GET", "/audit").status_code == 403
    other, _ = api()
    assert other("GET", f"/audit?target_id={script_id}").get_json()["items"] == []


def test_superadmin_session_names_the_tenant(client, db_session, make_tenant, make_user, api):
    member, tenant = api()
    member("POST", "/scripts", json={"name": "Theirs", "type": "oneoff", "source": SOURCE})
    admin = make_user(role="superadmin", password="correct-horse")
    assert client.post("/login", data={"email": admin.email, "password": "correct-horse"}).status_code == 302
    listed = client.get(f"/api/v1/scripts?tenant={tenant.slug}")
    assert listed.status_code == 200 and [s["name"] for s in listed.get_json()["items"]] == ["Theirs"]
    assert client.get("/api/v1/scripts").status_code == 404  # a superadmin must say which tenant
    assert client.get("/api/v1/scripts?tenant=nope").status_code == 404


def test_enqueue_returns_a_pending_execution_to_poll(api, db_session):
    call, _ = api()
    script_id = call("POST", "/scripts", json={"name": "Later", "type": "oneoff", "source": SOURCE}).get_json()["id"]
    queued = call("POST", f"/scripts/{script_id}/enqueue", json={"input": 7})
    body = queued.get_json()
    assert queued.status_code == 202 and body["status"] == "pending"
    assert queued.headers["Location"] == f"/api/v1/executions/{body['id']}"
    # tests run Huey in immediate mode: the task has already run
    polled = call("GET", f"/executions/{body['id']}").get_json()
    assert polled["status"] == "completed" and polled["output"] == {"echo": 7}


def test_bad_query_and_body_values_are_field_errors(api, db_session):
    call, _ = api()
    script_id = call("POST", "/scripts", json={"name": "Job", "type": "oneoff", "source": SOURCE}).get_json()["id"]
    assert "since" in call("GET", "/executions?since=yesterday").get_json()["fields"]
    rollback = call("POST", f"/scripts/{script_id}/rollback", json={"version": "1"})
    assert rollback.status_code == 422 and "version" in rollback.get_json()["fields"]
    status = call("POST", f"/scripts/{script_id}/status", json={"status": "flying"})
    assert status.status_code == 422 and "status" in status.get_json()["fields"]
    not_object = call("POST", "/scripts", json=[1, 2])
    assert not_object.status_code == 400 and not_object.get_json()["error"] == "The request body must be a JSON object."
