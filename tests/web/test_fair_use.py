"""Fair use: a cap on a tenant's queued runs and a run rate per token (issue 8, Build §7)."""

from portal.extensions import db
from portal.models import Script
from portal.services import executions
from portal.services.rbac import Actor
from portal.tenancy import tenant_scope

SCRIPT = {"name": "Job", "type": "oneoff", "source": "function main(input) { return input }"}


def test_a_full_pending_queue_answers_429_with_retry_after(app, api, make_user):
    call, tenant = api()
    script_id = call("POST", "/scripts", json=SCRIPT).get_json()["id"]
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    with tenant_scope(tenant.id):
        row = db.session.get(Script, script_id)
        for _ in range(app.config["JSR_TENANT_PENDING"]):
            executions.create_pending(actor, row, trigger="api")
        db.session.commit()
    for action in ("run", "enqueue"):
        refused = call("POST", f"/scripts/{script_id}/{action}", json={"input": 1})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0, refused.get_json()
    other, _ = api()
    other_id = other("POST", "/scripts", json=SCRIPT).get_json()["id"]
    assert other("POST", f"/scripts/{other_id}/run", json={"input": 1}).status_code == 200  # other tenants run


def test_runs_are_rate_limited_per_token(app, api):
    call, tenant = api()
    neighbour, _ = api(role="developer", tenant=tenant)
    script_id = call("POST", "/scripts", json=SCRIPT).get_json()["id"]
    app.config["JSR_RUN_RATE"] = "2 per minute"
    try:
        answers = [call("POST", f"/scripts/{script_id}/{action}", json={"input": 1}).status_code
                   for action in ("run", "enqueue", "run")]
        refused = call("POST", f"/scripts/{script_id}/enqueue", json={"input": 1})
        neighbours = neighbour("POST", f"/scripts/{script_id}/run", json={"input": 1}).status_code
    finally:
        app.config["JSR_RUN_RATE"] = "1000 per minute"
    assert answers == [200, 202, 429] and neighbours == 200
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 60
