"""`flask jsr ...` commands against the test databases."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import DataRecord, Event, Execution, Script, Tenant, User
from portal.services import accounts, outbox, secrets
from portal.services.rbac import Actor
from portal.tenancy import system_scope, tenant_scope


def _count(model) -> int:
    with system_scope():
        return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_is_idempotent(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["jsr", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert "admin@demo.test" in first.output
    again = runner.invoke(args=["jsr", "seed-demo"])
    assert again.exit_code == 0 and "already present" in again.output
    assert _count(Tenant) == 1 and _count(User) == 3 and _count(Script) == 5
    with system_scope():
        types = set(db.session.scalars(select(Script.type)))
        statuses = set(db.session.scalars(select(Script.status)))
    assert types == {"scheduled", "http", "event", "oneoff", "embedded"} and statuses == {"active"}


def test_create_tenant_user_token(app, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["jsr", "create-tenant", "acme", "--name", "Acme"]).exit_code == 0
    duplicate = runner.invoke(args=["jsr", "create-tenant", "acme"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad = runner.invoke(args=["jsr", "create-tenant", "Not A Slug"])
    assert bad.exit_code != 0 and "slug" in bad.output
    user = runner.invoke(args=["jsr", "create-user", "ops@acme.test", "--tenant", "acme", "--role", "org_admin",
                               "--password", "long-enough-pw"])
    assert user.exit_code == 0, user.output
    unknown = runner.invoke(args=["jsr", "create-user", "x@y.test", "--tenant", "nope", "--password", "long-enough"])
    assert unknown.exit_code != 0 and "Unknown tenant" in unknown.output
    token = runner.invoke(args=["jsr", "create-token", "ops@acme.test", "--role", "viewer"])
    assert token.exit_code == 0 and token.output.startswith("jsr_")
    actor = accounts.actor_for_token(token.output.strip())
    assert actor.role == "viewer"


def test_cleanup_reports_count(app, db_session):
    result = app.test_cli_runner().invoke(args=["jsr", "cleanup", "--days", "1"])
    assert result.exit_code == 0 and "deleted 0 executions" in result.output


def test_run_acts_for_the_tenant_given(app, db_session, tmp_path, make_tenant):
    tenant = make_tenant(slug="cli-db")
    script = tmp_path / "job.js"
    script.write_text("async function main(input, ctx) {\n"
                      "  try { return (await ctx.db.insert('notes', {n: input}))._id.length; }\n"
                      "  catch (e) { return e.name + ': ' + e.message; }\n}")
    runner = app.test_cli_runner()
    with_tenant = runner.invoke(args=["jsr", "run", str(script), "--input", "1", "--tenant", "cli-db"])
    assert with_tenant.exit_code == 0 and json.loads(with_tenant.stdout) == 36
    with system_scope():
        assert db.session.scalar(select(func.count()).select_from(DataRecord)
                                 .where(DataRecord.tenant_id == tenant.id)) == 1
    without = runner.invoke(args=["jsr", "run", str(script), "--input", "1"])
    assert json.loads(without.stdout) == "TenantRequired: ctx.db needs a tenant: this run acts for none"
    unknown = runner.invoke(args=["jsr", "run", str(script), "--tenant", "nope"])
    assert unknown.exit_code != 0 and "Unknown tenant" in unknown.output


def test_run_publishes_events_for_the_tenant_given(app, db_session, tmp_path, make_tenant):
    tenant = make_tenant(slug="cli-events")
    script = tmp_path / "publish.js"
    script.write_text("async function main(input, ctx) {\n"
                      "  try { return (await ctx.events.publish('cli.ran', {n: input})).depth; }\n"
                      "  catch (e) { return e.name + ': ' + e.message; }\n}")
    runner = app.test_cli_runner()
    with_tenant = runner.invoke(args=["jsr", "run", str(script), "--input", "3", "--tenant", "cli-events"])
    assert with_tenant.exit_code == 0 and json.loads(with_tenant.stdout) == 0
    with system_scope():
        assert [(e.tenant_id, e.payload) for e in db.session.scalars(select(Event).where(Event.type == "cli.ran"))
                ] == [(tenant.id, {"n": 3})]
    without = runner.invoke(args=["jsr", "run", str(script), "--input", "1"])
    assert json.loads(without.stdout) == "TenantRequired: ctx.events needs a tenant: this run acts for none"


def test_transform_prints_rudderstacks_response(app, db_session, tmp_path, make_tenant, make_user):
    tenant = make_tenant(slug="cli-rs")
    secrets.put(Actor.of(make_user(role="org_admin", tenant=tenant)), tenant.id, "apiKey", "k-123")
    code = tmp_path / "transformation.js"
    code.write_text("export function transformEvent(event, metadata) {\n"
                    "  log('seen', event.messageId);\n"
                    "  if (event.event === 'drop') return null;\n"
                    "  event.key = getCredential('apiKey');\n"
                    "  event.source = metadata(event).sourceId;\n"
                    "  return event;\n}\n")
    events = tmp_path / "events.json"
    events.write_text(json.dumps([
        {"message": {"messageId": "m1", "event": "keep"}, "metadata": {"messageId": "m1", "sourceId": "s1"},
         "destination": {}},
        {"message": {"messageId": "m2", "event": "drop"}, "metadata": {"messageId": "m2", "sourceId": "s1"},
         "destination": {}},
    ]))
    result = app.test_cli_runner().invoke(args=["jsr", "transform", str(code), "--events", str(events),
                                                "--tenant", "cli-rs", "--test"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "transformedEvents": [{"statusCode": 200, "metadata": {"messageId": "m1", "sourceId": "s1"},
                               "output": {"messageId": "m1", "event": "keep", "key": "k-123", "source": "s1"}}],
        "logs": ["Log: seen m1", "Log: seen m2"],
    }
    bad = app.test_cli_runner().invoke(args=["jsr", "transform", str(code), "--events", str(code)])
    assert bad.exit_code != 0 and "not a JSON file" in bad.output


def test_the_demo_schedule_fires_on_a_tick(app, db_session):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["jsr", "seed-demo"]).exit_code == 0
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    result = runner.invoke(args=["jsr", "tick", "--now", soon])
    assert result.exit_code == 0 and "fired 1," in result.output, result.output
    with system_scope():
        run = db.session.scalar(select(Execution).where(Execution.trigger == "schedule"))
        assert run.status == "completed" and run.output == {
            "scheduledAt": run.scheduled_for.isoformat().replace("+00:00", "Z")}


def test_the_demo_event_script_thanks_for_a_paid_order(app, db_session):
    assert app.test_cli_runner().invoke(args=["jsr", "seed-demo"]).exit_code == 0
    with system_scope():
        tenant_id = db.session.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
    with tenant_scope(tenant_id):
        outbox.publish(tenant_id, "order.paid", {"orderId": 7, "amount": 10})
        db.session.commit()  # delivered and run inline (Huey immediate)
    with system_scope():
        run = db.session.scalar(select(Execution).where(Execution.trigger == "event"))
        assert (run.status, run.output) == ("completed", {"thanked": 7})


def test_the_demo_webhook_starts_an_event_chain(app, db_session):
    """curl → the demo's webhook → its `order.paid` event → the demo's event script (Huey immediate)."""
    assert app.test_cli_runner().invoke(args=["jsr", "seed-demo"]).exit_code == 0
    answer = app.test_client().post("/hooks/demo/orders", json={"id": 42, "amount": 99})
    assert (answer.status_code, answer.get_json()) == (201, {"received": 42}), answer.text
    with system_scope():
        thanked = db.session.scalar(select(Execution).where(Execution.trigger == "event"))
        assert thanked is not None, "the webhook published no order.paid event"
        assert (thanked.status, thanked.output) == ("completed", {"thanked": 42})
