"""Bad input is a translated 4xx, never a 500, on SQLite and PostgreSQL alike (issue 8, Build §1)."""

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, text

from portal.extensions import db
from portal.models import Execution, Script
from portal.tenancy import system_scope

SOURCE = "function main(input) {\n  return input;\n}\n"


@pytest.fixture
def script(api):
    """(call, script id) for an org admin's oneoff script."""
    call, tenant = api()
    created = call("POST", "/scripts", json={"name": "Job", "type": "oneoff", "source": SOURCE})
    assert created.status_code == 201, created.get_json()
    return call, created.get_json()["id"]


@pytest.mark.parametrize("field, value", [
    ("description", {"not": "text"}), ("description", 5), ("description", "x" * 2001),
    ("timezone", 5), ("timezone", "Mars/Olympus"), ("timezone", "America"), ("timezone", "x" * 300),
    ("http_auth", 7), ("http_auth", "basic"), ("change_description", {"not": "text"}),
])
def test_every_editable_field_is_checked_whatever_the_type(script, field, value):
    call, script_id = script
    response = call("PATCH", f"/scripts/{script_id}", json={field: value})
    assert response.status_code == 422 and field in response.get_json()["fields"], response.get_json()


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
@pytest.mark.parametrize("field", ["name", "description", "source", "timezone", "change_description"])
def test_nul_and_lone_surrogates_are_refused_in_script_fields(script, field, bad):
    call, script_id = script
    value = {"name": "Jo", "description": "d", "source": SOURCE, "timezone": "UTC", "change_description": "c"}[field]
    response = call("PATCH", f"/scripts/{script_id}", json={field: value + bad})
    assert response.status_code == 422 and field in response.get_json()["fields"], response.get_json()


@pytest.mark.parametrize("payload", [{"input": "a\x00b"}, {"input": {"a\x00": 1}}, {"input": ["\ud800"]}])
def test_nul_is_refused_in_run_input(script, payload):
    call, script_id = script
    for action in ("run", "enqueue"):
        response = call("POST", f"/scripts/{script_id}/{action}", json=payload)
        assert response.status_code == 422 and "input" in response.get_json()["fields"], response.get_json()


@pytest.mark.parametrize("path, status", [
    ("/scripts/%00", 404), ("/scripts/%00/versions", 404), ("/executions/a%00b", 404),
    ("/executions/%00/cancel", 404), ("/scripts?status=%00", 422), ("/scripts?type=%00", 422),
    ("/scripts?q=%00", 422), ("/executions?status=%00", 422), ("/executions?trigger=%00", 422),
    ("/executions?script_id=%00", 422), ("/executions?status=flying", 422), ("/audit?action=%00", 422),
    ("/audit?target_id=%00", 422), ("/scripts?tenant=%00", 404),
])
def test_nul_in_path_ids_and_filters(script, path, status):
    call, _ = script
    method = "POST" if path.endswith("/cancel") else "GET"
    response = call(method, path)
    assert response.status_code == status and response.get_json()["error"], response.get_json()


@pytest.mark.parametrize("body", ["[" * 100_000, '{"input": ' + "[" * 500 + "]" * 500 + "}",
                                  '{"input": NaN}', '{"input": Infinity}', '{"input": -Infinity}'])
def test_deep_json_and_non_finite_numbers_are_400(script, body):
    call, script_id = script
    response = call("POST", f"/scripts/{script_id}/run", data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]


def test_a_body_that_is_not_json_is_415(script):
    call, script_id = script
    response = call("POST", f"/scripts/{script_id}/run", data="input=1", content_type="text/plain")
    assert response.status_code == 415 and response.get_json()["error"]


def test_an_oversized_body_is_413(app, script):
    call, script_id = script
    body = '{"input": "' + "x" * app.config["JSR_MAX_BODY_BYTES"] + '"}'
    response = call("POST", f"/scripts/{script_id}/run", data=body, content_type="application/json")
    assert response.status_code == 413 and response.get_json()["error"]


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=501", "limit"), ("offset=-1", "offset"),
    ("offset=7575669641386307552611926016", "offset"), ("limit=19091852260562", "limit"),
    ("since=0001-01-01T00:00:00%2B01:00", "since"), ("until=9999-12-31T23:59:59-01:00", "until"),
])
def test_paging_and_times_out_of_range_are_422(script, query, field):
    call, _ = script
    for path in ("/executions", "/audit", "/scripts") if field in ("limit", "offset") else ("/executions",):
        response = call("GET", f"{path}?{query}")
        assert response.status_code == 422 and field in response.get_json()["fields"], (path, response.get_json())


@pytest.mark.parametrize("number", [0, 2**31, 10**20])
def test_version_numbers_out_of_range_are_422(script, number):
    call, script_id = script
    rollback = call("POST", f"/scripts/{script_id}/rollback", json={"version": number})
    assert rollback.status_code == 422 and "version" in rollback.get_json()["fields"]
    if number:
        shown = call("GET", f"/scripts/{script_id}/versions/{number}")
        assert shown.status_code == 422 and "version" in shown.get_json()["fields"]


def test_a_cron_expression_that_never_fires_is_refused_at_save(api, make_script):
    call, tenant = api()
    payload = {"name": "Never", "type": "scheduled", "source": SOURCE, "cron_expression": "0 0 31 2 *"}
    response = call("POST", "/scripts", json=payload)
    assert response.status_code == 422 and "cron_expression" in response.get_json()["fields"]
    stored = make_script(tenant, type="scheduled", cron_expression="0 0 31 2 *")  # saved before this check
    activated = call("POST", f"/scripts/{stored.id}/status", json={"status": "active"})
    assert activated.status_code == 422 and "cron_expression" in activated.get_json()["fields"]


@contextmanager
def _losing_race(model, sql: str, **params):
    """Commit `sql` on another connection just before db.session first flushes a new `model`: a race lost
    on purpose, between the service's checks and its write."""
    done = []

    def interfere(session, _context, _instances):
        if not done and any(isinstance(obj, model) for obj in session.new):
            done.append(True)
            with db.engine.begin() as connection:
                connection.execute(text(sql), params)

    event.listen(db.session, "before_flush", interfere)
    try:
        yield
    finally:
        event.remove(db.session, "before_flush", interfere)
    assert done, "the race was not run"


def test_a_create_that_loses_the_race_for_its_name_is_409(api):
    call, tenant = api()
    with _losing_race(Script, "INSERT INTO scripts (id, tenant_id, name, source, type) VALUES"
                      " ('00000000-0000-4000-8000-000000000001', :tenant, 'Twin', 'x', 'oneoff')", tenant=tenant.id):
        response = call("POST", "/scripts", json={"name": "Twin", "type": "oneoff", "source": SOURCE})
    assert response.status_code == 409 and response.get_json()["field"] == "name", response.get_json()


def test_a_run_of_a_script_deleted_meanwhile_is_404(script):
    call, script_id = script
    with _losing_race(Execution, "DELETE FROM scripts WHERE id = :id", id=script_id):
        response = call("POST", f"/scripts/{script_id}/run", json={"input": 1})
    assert response.status_code == 404, response.get_json()


def test_concurrent_rollbacks_never_fail_and_never_skip_a_version(app, script):
    call, script_id = script
    assert call("PATCH", f"/scripts/{script_id}", json={"source": SOURCE + "// 2\n"}).status_code == 200
    start, answers = threading.Barrier(4), []

    def roll_back():
        start.wait()
        answers.append(call("POST", f"/scripts/{script_id}/rollback", json={"version": 1}).status_code)

    threads = [threading.Thread(target=roll_back) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(answers) <= {200, 409} and 200 in answers, answers
    versions = [v["version"] for v in call("GET", f"/scripts/{script_id}/versions").get_json()["items"]]
    assert versions == list(range(len(versions), 0, -1)) and len(versions) == 2 + answers.count(200)
    with system_scope():
        assert db.session.scalar(select(Script.current_version).where(Script.id == script_id)) == versions[0]


def test_nul_in_the_sign_in_email_is_401(client, db_session):
    response = client.post("/login", data={"email": "a\x00@example.test", "password": "whatever-it-is"})
    assert response.status_code == 401


@pytest.mark.parametrize("payload", [{"role": {}}, {"role": []}, {"active": "yes"}, {"unlock": None}])
def test_users_api_refuses_values_of_the_wrong_type(api, make_user, payload):
    call, tenant = api()
    user = make_user(role="viewer", tenant=tenant)
    changed = call("PATCH", f"/users/{user.id}", json=payload)
    assert changed.status_code == 422 and set(changed.get_json()["fields"]) == set(payload), changed.get_json()
    created = call("POST", "/users", json={"email": "x@example.test", "password": "long-enough", "role": {}})
    assert created.status_code == 422 and "role" in created.get_json()["fields"]
