"""Domain events: outbox, delivery by pattern, retries with backoff, dead letters and replay (Huey immediate)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

import tasks
from portal.extensions import db
from portal.models import AuditEvent, DeadLetter, Event, Execution
from portal.services import accounts, events, executions, outbox, scripts
from portal.services.errors import ValidationError
from portal.services.rbac import Actor
from portal.tenancy import system_scope, tenant_scope
from tasks.executions import reap_stale_executions
from tasks.queue import configure

ECHO = "async function onEvent(event, ctx) { return {event, attempt: ctx.trigger.attempt} }"
FAILS_UNLESS_OK = "function onEvent(event) { if (!event.payload || !event.payload.ok) throw new Error('not ok'); " \
                  "return event.payload }"


@pytest.mark.parametrize(("pattern", "type_", "expected"), [
    ("*", "order.paid", True), ("*", "x", True), ("order.*", "order.paid", True), ("order.paid", "order.paid", True),
    ("order.*", "order", False), ("order.*", "order.paid.late", False), ("order.paid", "order.refunded", False),
    ("*.paid", "invoice.paid", True), ("order.*", "orders.paid", False),
])
def test_patterns(pattern, type_, expected):
    assert events.matches(pattern, type_) is expected


@pytest.fixture
def tenant_admin(make_tenant, make_user):
    tenant = make_tenant(max_concurrency=10)
    return tenant, Actor.of(make_user(role="org_admin", tenant=tenant))


@pytest.fixture
def event_script(tenant_admin):
    """event_script(patterns, source=ECHO) -> script id: an active event script of the fixture's tenant."""
    tenant, admin = tenant_admin

    def _make(patterns, source=ECHO):
        script = scripts.create(admin, tenant.id, {"name": f"on {' '.join(patterns)}".replace("*", "all"),
                                                   "type": "event", "event_patterns": patterns, "source": source})
        return scripts.set_status(admin, tenant.id, script.id, "active").id

    return _make


def _runs(script_id: str) -> list[Execution]:
    with system_scope():
        return list(db.session.scalars(select(Execution).where(Execution.script_id == script_id)
                                       .order_by(Execution.created_at, Execution.attempt)
                                       .execution_options(populate_existing=True)))


def _publish(tenant_id: str, type_: str, payload=None, depth: int = 0) -> str:
    with tenant_scope(tenant_id):
        event = outbox.publish(tenant_id, type_, payload, depth=depth)
        db.session.commit()
    return event.id


def test_an_event_nobody_subscribes_to_is_written_delivered_and_queues_nothing(app, db_session, tenant_admin,
                                                                               event_script, monkeypatch):
    tenant, _ = tenant_admin
    event_script(["order.*"])
    queued = []
    monkeypatch.setitem(app.extensions, outbox.DELIVER_KEY, queued.extend)
    unheard, heard = _publish(tenant.id, "invoice.sent"), _publish(tenant.id, "order.paid")
    assert queued == [heard]
    with system_scope():
        assert db.session.get(Event, unheard, populate_existing=True).status == "delivered"
        assert db.session.get(Event, heard, populate_existing=True).status == "pending"


def test_an_event_runs_every_matching_script(app, db_session, tenant_admin, event_script):
    tenant, admin = tenant_admin
    orders, users = event_script(["order.*"]), event_script(["user.created"])
    everything = event_script(["*"])  # created last: the script.created events before it reach nobody
    event_id = _publish(tenant.id, "order.paid", {"orderId": 7}, depth=2)
    [run] = _runs(orders)
    assert (run.trigger, run.status, run.attempt, run.event_id) == ("event", "completed", 1, event_id)
    event = run.output["event"]
    assert {k: event[k] for k in ("id", "type", "payload", "depth")} == {
        "id": event_id, "type": "order.paid", "payload": {"orderId": 7}, "depth": 2}
    assert datetime.fromisoformat(event["occurredAt"]) <= datetime.now(UTC)
    assert [r.input["type"] for r in _runs(everything)] == ["order.paid"]
    assert _runs(users) == []
    with system_scope():
        assert db.session.get(Event, event_id).status == "delivered"
    assert events.deliver([event_id]) == []  # delivered once, whoever hands it over again


def test_the_portals_own_changes_publish_events(app, db_session, tenant_admin, event_script):
    tenant, admin = tenant_admin
    everything = event_script(["*"])
    created = scripts.create(admin, tenant.id, {"name": "Job", "type": "oneoff", "source": "function main() {}"})
    scripts.update(admin, tenant.id, created.id, {"description": "now described"})
    executions.run_now(admin, tenant.id, created.id, None)
    accounts.create_user(admin, tenant.id, "new@example.test", "long-enough-password", "viewer")
    scripts.delete(admin, tenant.id, created.id)
    seen = [(r.input["type"], r.input["payload"].get("scriptId")) for r in _runs(everything)]
    assert seen == [("script.created", created.id), ("script.updated", created.id),
                    ("execution.completed", created.id), ("user.created", None), ("script.deleted", created.id)]


def test_a_rolled_back_change_publishes_nothing(app, db_session, tenant_admin, event_script):
    tenant, _ = tenant_admin
    everything = event_script(["*"])
    before = _count(Event)
    with tenant_scope(tenant.id):
        outbox.publish(tenant.id, "order.paid", {"n": 1})
        db.session.rollback()
        db.session.commit()  # a later commit hands nothing over either
    assert _count(Event) == before and _runs(everything) == []


def _count(model) -> int:
    with system_scope():
        return db.session.scalar(select(func.count()).select_from(model))


def test_bad_types_payloads_and_depth_are_refused(app, db_session, tenant_admin):
    tenant, _ = tenant_admin
    for bad_type in ("Order.Paid", "", "order..paid", "x" * 201, None):
        with pytest.raises(ValidationError):
            _publish(tenant.id, bad_type)
    with pytest.raises(ValidationError) as refused:
        _publish(tenant.id, "order.paid", depth=app.config["JSR_EVENT_MAX_DEPTH"] + 1)
    assert "depth" in refused.value.errors
    _publish(tenant.id, "order.paid", depth=app.config["JSR_EVENT_MAX_DEPTH"])


def test_retries_with_backoff_then_a_dead_letter(app, db_session, tenant_admin, event_script, monkeypatch):
    tenant, _ = tenant_admin
    monkeypatch.setitem(app.config, "JSR_EVENT_RETRIES", 2)
    failing = event_script(["order.paid"], FAILS_UNLESS_OK)
    published_at = datetime.now(UTC)
    event_id = _publish(tenant.id, "order.paid", {"ok": False})
    for attempt in (2, 3):
        runs = _runs(failing)
        assert [(r.attempt, r.status) for r in runs] == [*((n, "failed") for n in range(1, attempt)),
                                                         (attempt, "pending")]
        # The next attempt waits in the queue's schedule, JSR_RETRY_DELAY_S · 2^(attempt-2) later at least.
        [queued] = [task for task in tasks.huey.scheduled() if task.args == (runs[-1].id,)]
        delay = app.config["JSR_RETRY_DELAY_S"] * 2 ** (attempt - 2)
        assert queued.eta.replace(tzinfo=UTC) >= published_at + timedelta(seconds=delay) - timedelta(seconds=1)
        tasks.run_execution(runs[-1].id)  # what the consumer does when the time comes
    assert [r.status for r in _runs(failing)] == ["failed"] * 3
    with system_scope():
        [letter] = db.session.scalars(select(DeadLetter).where(DeadLetter.script_id == failing))
        assert (letter.event_id, letter.event_type, letter.payload, letter.attempts, letter.status) == (
            event_id, "order.paid", {"ok": False}, 3, "dead")
        assert letter.error["message"] == "not ok" and letter.execution_id == _runs(failing)[-1].id
    assert events.follow_up(_runs(failing)[-1].id) is None  # followed up once only


def _dead_letter(app, tenant_id, script_id, payload, monkeypatch) -> str:
    monkeypatch.setitem(app.config, "JSR_EVENT_RETRIES", 0)
    event_id = _publish(tenant_id, "order.paid", payload)
    with system_scope():
        return db.session.scalar(select(DeadLetter.id).where(DeadLetter.script_id == script_id,
                                                             DeadLetter.event_id == event_id))


def test_replay_with_an_edited_payload_over_the_api(app, api, db_session, make_user, monkeypatch):
    call, tenant = api("org_admin")
    admin = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(admin, tenant.id, {"name": "Picky", "type": "event", "event_patterns": ["order.*"],
                                               "source": FAILS_UNLESS_OK})
    scripts.set_status(admin, tenant.id, script.id, "active")
    letter_id = _dead_letter(app, tenant.id, script.id, {"ok": False}, monkeypatch)
    listed = call("GET", f"/dead-letters?script_id={script.id}&event_type=order.paid")
    assert listed.status_code == 200 and [d["id"] for d in listed.json["items"]] == [letter_id]
    replayed = call("POST", f"/dead-letters/{letter_id}/replay", json={"payload": {"ok": True, "n": 1}})
    assert replayed.status_code == 202, replayed.json
    execution = call("GET", f"/executions/{replayed.json['id']}").json
    assert (execution["status"], execution["output"]) == ("completed", {"ok": True, "n": 1})
    letter = call("GET", "/dead-letters?status=replayed").json["items"][0]
    assert (letter["id"], letter["replay_execution_id"]) == (letter_id, replayed.json["id"])
    assert call("POST", f"/dead-letters/{letter_id}/replay", json={}).status_code == 409
    with system_scope():
        assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "dead_letter.replay",
                                                                  AuditEvent.target_id == letter_id))["edited"]


def test_batch_replay_and_discard_over_the_api(app, api, db_session, make_user, monkeypatch):
    call, tenant = api("org_admin")
    admin = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(admin, tenant.id, {"name": "Flaky", "type": "event", "event_patterns": ["order.*"],
                                               "source": FAILS_UNLESS_OK})
    scripts.set_status(admin, tenant.id, script.id, "active")
    letters = [_dead_letter(app, tenant.id, script.id, {"ok": False, "n": n}, monkeypatch) for n in range(3)]
    developer, _ = api("developer", tenant)
    assert developer("DELETE", f"/dead-letters/{letters[0]}").status_code == 403
    assert call("DELETE", f"/dead-letters/{letters[0]}").status_code == 204
    batch = call("POST", f"/dead-letters/replay?event_type=order.paid&script_id={script.id}")
    assert batch.status_code == 202 and len(batch.json["items"]) == 2
    statuses = {d["id"]: d["status"] for d in call("GET", "/dead-letters").json["items"]}
    # The replays failed again (same payload, no retries): each left a new dead letter of its own.
    assert [statuses[letter] for letter in letters[1:]] == ["replayed", "replayed"] and len(statuses) == 4
    assert call("POST", "/dead-letters/replay?event_type=order.refunded").json["items"] == []


def test_publish_over_the_api(app, api, db_session):
    call, tenant = api("developer")
    one = call("POST", "/events", json={"type": "order.paid", "payload": {"id": 1}})
    assert one.status_code == 202 and set(one.json) == {"id"}
    many = call("POST", "/events", json=[{"type": "order.paid"}, {"type": "order.refunded", "payload": [1]}])
    assert many.status_code == 202 and len(many.json["ids"]) == 2
    assert call("POST", "/events", json={"type": "Bad Type"}).status_code == 422
    assert call("POST", "/events", json=[]).status_code == 422
    viewer, _ = api("viewer", tenant)
    assert viewer("POST", "/events", json={"type": "order.paid"}).status_code == 403


def test_a_run_the_reaper_failed_is_retried(app, db_session, tenant_admin, event_script, undrained_queue):
    """The worker died mid-run: the reaper fails the execution and the event's next attempt is queued."""
    tenant, _ = tenant_admin
    script_id = event_script(["order.paid"])
    events.deliver([_publish(tenant.id, "order.paid", {"n": 2})])  # what the consumer would do
    [first] = [r for r in _runs(script_id) if r.input["payload"] == {"n": 2}]
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == first.id)
                           .values(status="running", started_at=datetime.now(UTC) - timedelta(hours=2)))
        db.session.commit()
    assert reap_stale_executions.call_local() == 1
    retries = [r for r in _runs(script_id) if r.input["payload"] == {"n": 2}]
    assert [(r.attempt, r.status) for r in retries] == [(1, "failed"), (2, "pending")]


def test_the_relay_hands_over_events_a_queue_outage_held_back(app, db_session, tenant_admin, event_script):
    tenant, _ = tenant_admin
    script_id = event_script(["order.paid"])
    # The queue is Redis on a port where nothing listens: every enqueue fails.
    previous = app.config["HUEY_URL"]
    app.config.update(HUEY_URL="redis://127.0.0.1:1/0", HUEY_IMMEDIATE=False)
    configure(app)
    try:
        event_id = _publish(tenant.id, "order.paid", {"n": 1})  # committed; its queueing failed
    finally:
        app.config.update(HUEY_URL=previous, HUEY_IMMEDIATE=True)
        configure(app)
    assert _runs(script_id) == []
    assert outbox.relay_stale() == 0  # not yet: it may still be on its way
    assert outbox.relay_stale(now=datetime.now(UTC) + outbox.RELAY_AFTER + timedelta(seconds=1)) == 1
    [run] = _runs(script_id)
    assert (run.event_id, run.status) == (event_id, "completed")


# -- ctx.events.publish from scripts -----------------------------------------------------------
PUBLISHES = """async function main(input, ctx) {
  try { return await ctx.events.publish(input.type, input.payload) }
  catch (e) { return {error: e.name + ': ' + e.message} }
}"""


def _run_publisher(tenant, admin, input):
    script = scripts.create(admin, tenant.id, {"name": "Publisher", "type": "oneoff", "source": PUBLISHES})
    execution = executions.run_now(admin, tenant.id, script.id, input)
    assert execution.status == "completed", execution.error
    return execution


def test_a_script_publishes_an_event_that_event_scripts_receive(app, db_session, tenant_admin, event_script,
                                                                 make_tenant, make_user):
    tenant, admin = tenant_admin
    orders = event_script(["order.*"])
    other = make_tenant(max_concurrency=10)
    other_admin = Actor.of(make_user(role="org_admin", tenant=other))
    elsewhere = scripts.set_status(other_admin, other.id, scripts.create(other_admin, other.id, {
        "name": "all", "type": "event", "event_patterns": ["*"], "source": ECHO}).id, "active").id
    execution = _run_publisher(tenant, admin, {"type": "order.paid", "payload": {"orderId": 7}})
    published = execution.output
    assert (published["type"], published["depth"]) == ("order.paid", 0)
    [run] = _runs(orders)
    assert run.status == "completed" and run.event_id == published["id"]
    assert {k: run.output["event"][k] for k in ("type", "payload", "depth")} == {
        "type": "order.paid", "payload": {"orderId": 7}, "depth": 0}
    with system_scope():
        assert db.session.get(Event, published["id"]).tenant_id == tenant.id
    assert [r for r in _runs(elsewhere) if r.input["type"] == "order.paid"] == []  # nor another tenant
    assert [(c["api"], c["method"], c["target"]) for c in execution.outbound_calls] == [
        ("events", "publish", "order.paid")]


def test_an_event_script_republishing_its_own_type_stops_at_the_depth_limit(app, db_session, tenant_admin,
                                                                            event_script, monkeypatch):
    """Each event a run publishes is one deeper than the event that started the run; past the limit
    publishing rejects with an error the script can catch. (Huey immediate runs the chain nested, so
    a limit of 1 keeps it within the test pool's runners.)"""
    monkeypatch.setitem(app.config, "JSR_EVENT_MAX_DEPTH", 1)
    tenant, _ = tenant_admin
    loop = event_script(["loop.tick"], """async function onEvent(event, ctx) {
      try { return {published: await ctx.events.publish('loop.tick', {from: event.depth})} }
      catch (e) { return {refused: e.name + ': ' + e.message, depth: ctx.trigger.depth} }
    }""")
    _publish(tenant.id, "loop.tick", {"from": None})
    runs = _runs(loop)
    assert [(r.status, r.input["depth"]) for r in runs] == [("completed", 0), ("completed", 1)]
    assert runs[0].output["published"]["depth"] == 1
    assert runs[1].output["depth"] == 1
    assert runs[1].output["refused"].startswith("ValidationError: ctx.events.publish: depth: Events may lead")
    assert _count_type(tenant.id, "loop.tick") == 2


def _count_type(tenant_id: str, type_: str) -> int:
    with system_scope():
        return db.session.scalar(select(func.count()).select_from(Event)
                                 .where(Event.tenant_id == tenant_id, Event.type == type_))


@pytest.mark.parametrize(("args", "message"), [
    ("'Order.Paid'", "ValidationError: ctx.events.publish: type: An event type looks like order.paid"),
    ("null, {}", "ValidationError: ctx.events.publish: type: An event type looks like order.paid"),
    ("'order.paid', {s: 'a\\u0000b'}", "ValidationError: ctx.events.publish: payload: Contains a character"),
    ("", "TypeError: ctx.events.publish: wrong number of arguments"),
])
def test_a_bad_event_rejects_catchably(app, db_session, tenant_admin, args, message):
    tenant, admin = tenant_admin
    source = PUBLISHES.replace("input.type, input.payload", args)
    script = scripts.create(admin, tenant.id, {"name": "Bad publisher", "type": "oneoff", "source": source})
    execution = executions.run_now(admin, tenant.id, script.id, None)
    assert execution.status == "completed", execution.error
    assert execution.output["error"].startswith(message)
    assert _count_type(tenant.id, "order.paid") == 0


def test_event_runs_the_quota_holds_back_are_run_by_one_delayed_pass(app, db_session, make_tenant, make_user,
                                                                      make_script):
    tenant = make_tenant(max_concurrency=1)
    admin = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(admin, tenant.id, {"name": "on order", "type": "event", "event_patterns": ["order.*"],
                                               "source": ECHO})
    scripts.set_status(admin, tenant.id, script.id, "active")
    with system_scope():  # the tenant's one place is taken by a run elsewhere
        elsewhere = Execution(tenant_id=tenant.id, script_id=make_script(tenant).id, trigger="manual",
                              status="running", started_at=datetime.now(UTC))
        db.session.add(elsewhere)
        db.session.commit()
        elsewhere_id = elsewhere.id
    delayed = [task for task in tasks.huey.scheduled() if task.name == "run_due_executions"]
    for n in (1, 2):  # delivered and woken at once (Huey's immediate mode): the quota holds them back
        _publish(tenant.id, "order.paid", {"n": n})
    assert {run.status for run in _runs(script.id)} == {"pending"}
    later = [task for task in tasks.huey.scheduled() if task.name == "run_due_executions"]
    assert len(later) == len(delayed) + 1  # one delayed pass, however many runs wait
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id == elsewhere_id).values(status="completed"))
        db.session.commit()
    tasks.run_due_executions(True)  # what the consumer does when the delayed pass's time comes
    assert sorted(run.output["event"]["payload"]["n"] for run in _runs(script.id)) == [1, 2]
