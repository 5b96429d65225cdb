"""The service functions the dead-letter pages added: counting what a batch replay will take, reading one dead
letter, replaying a chosen selection, executions by id, and parsing JSON a user typed."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import DeadLetter
from portal.services import events, executions, outbox, scripts
from portal.services.errors import NotFound, PermissionDenied, ValidationError
from portal.services.inputs import parse_json_text
from portal.services.rbac import Actor
from portal.tenancy import system_scope, tenant_scope

FAILS = "function onEvent(event) { throw new Error('no ' + event.payload.n) }"


@pytest.fixture
def letters(app, db_session, monkeypatch, make_tenant, make_user):
    """(tenant id, org admin actor, [dead letter ids of order.paid n=0..2], refund dead letter id)."""
    monkeypatch.setitem(app.config, "JSR_EVENT_RETRIES", 0)
    tenant = make_tenant(max_concurrency=10)
    admin = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(admin, tenant.id, {"name": "Fails", "type": "event", "event_patterns": ["*"],
                                               "source": FAILS})
    scripts.set_status(admin, tenant.id, script.id, "active")

    def letter(type_, n):
        with tenant_scope(tenant.id):
            event = outbox.publish(tenant.id, type_, {"n": n})
            db.session.commit()
        with system_scope():
            return db.session.scalar(select(DeadLetter.id).where(DeadLetter.event_id == event.id))

    return tenant.id, admin, [letter("order.paid", n) for n in range(3)], letter("refund.made", 9)


def _status(letter_id):
    with system_scope():
        return db.session.get(DeadLetter, letter_id, populate_existing=True).status


def test_count_what_the_filters_select(letters, make_user):
    tenant_id, admin, paid, refund = letters
    assert events.count_dead_letters(admin, tenant_id, status="dead") == 4
    assert events.count_dead_letters(admin, tenant_id, event_type="order.paid") == 3
    events.replay(admin, tenant_id, paid[0])  # fails again: a new dead letter, the old one replayed
    assert events.count_dead_letters(admin, tenant_id, event_type="order.paid", status="dead") == 3
    assert events.count_dead_letters(admin, tenant_id, status="replayed") == 1
    viewer = Actor.of(make_user(role="viewer", tenant=tenant_id))
    assert events.count_dead_letters(viewer, tenant_id) == 5
    with pytest.raises(ValidationError):
        events.count_dead_letters(admin, tenant_id, status="lost")


def test_get_one_dead_letter_in_its_tenant_only(letters, make_tenant, make_user):
    tenant_id, admin, paid, _ = letters
    assert events.get_dead_letter(admin, tenant_id, paid[1]).payload == {"n": 1}
    stranger_tenant = make_tenant()
    stranger = Actor.of(make_user(role="org_admin", tenant=stranger_tenant))
    for actor, tenant, letter_id in [(stranger, stranger_tenant.id, paid[1]), (admin, tenant_id, "nope")]:
        with pytest.raises(NotFound):
            events.get_dead_letter(actor, tenant, letter_id)
    with pytest.raises(PermissionDenied):
        events.get_dead_letter(stranger, tenant_id, paid[1])


def test_replay_a_selection_all_or_nothing(letters, make_user):
    tenant_id, admin, paid, refund = letters
    replayed = events.replay_many(admin, tenant_id, ids=[paid[0], refund])
    assert len(replayed) == 2 and [_status(i) for i in (*paid, refund)] == ["replayed", "dead", "dead", "replayed"]
    # Filters still apply to a selection, and replayed ones are skipped.
    assert events.replay_many(admin, tenant_id, event_type="refund.made", ids=[paid[1], refund]) == []
    for bad in ([], ["nope"], [paid[1]] * (events.MAX_BATCH + 1)):
        with pytest.raises(ValidationError):
            events.replay_many(admin, tenant_id, ids=bad)
    viewer = Actor.of(make_user(role="viewer", tenant=tenant_id))
    with pytest.raises(PermissionDenied):
        events.replay_many(viewer, tenant_id, ids=[paid[1]])
    assert _status(paid[1]) == "dead"


def test_executions_by_id(letters, make_tenant, make_user):
    tenant_id, admin, paid, _ = letters
    letter = events.get_dead_letter(admin, tenant_id, paid[0])
    found = executions.by_ids(admin, tenant_id, [letter.execution_id, None, "nope"])
    assert list(found) == [letter.execution_id] and found[letter.execution_id].status == "failed"
    stranger_tenant = make_tenant()
    stranger = Actor.of(make_user(role="org_admin", tenant=stranger_tenant))
    assert executions.by_ids(stranger, stranger_tenant.id, [letter.execution_id]) == {}


@pytest.mark.parametrize("text, value", [('{"a": [1, 2.5, null]}', {"a": [1, 2.5, None]}), ("3", 3), ("null", None)])
def test_parse_json_text(app, text, value):
    assert parse_json_text("payload", text) == value


@pytest.mark.parametrize("text, message", [("{", "Not valid JSON: line 1, column 2."), ("[NaN]", "Not valid JSON."),
                                           ("Infinity", "Not valid JSON."), (None, "Not valid JSON."),
                                           ('"\\u0000"', "Contains a character that cannot be stored"),
                                           ("[" * 65 + "]" * 65, "Nested more than 64 levels deep."),
                                           ("[" * 100_000, "Not valid JSON")])
def test_parse_json_text_refuses_with_a_field_error(app, text, message):
    with app.test_request_context(), pytest.raises(ValidationError) as refused:
        parse_json_text("payload", text)
    assert message in refused.value.errors["payload"]


def test_replaying_all_matching_takes_at_most_a_batch_oldest_first(letters, monkeypatch):
    tenant_id, admin, paid, refund = letters
    monkeypatch.setattr(events, "MAX_BATCH", 2)
    assert len(events.replay_many(admin, tenant_id, event_type="order.paid")) == 2
    assert [_status(i) for i in (*paid, refund)] == ["replayed", "replayed", "dead", "dead"]
