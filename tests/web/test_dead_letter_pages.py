"""The dead-letter queue pages (issue 12, point 2): filters and paging, detail, replay one, edited replay,
batch replay of a selection or of everything the filters match, discard; permissions as the API has them,
bad input, other tenants' ids, CSRF."""

import re

import pytest
from sqlalchemy import func, select

import tasks
from portal.extensions import db
from portal.models import AuditEvent, DeadLetter, Execution
from portal.services import outbox, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope, tenant_scope
from tests.conftest import sign_in

FAILS_UNLESS_OK = ("function onEvent(event) {\n  if (!event.payload || !event.payload.ok) throw new Error('not ok');\n"
                   "  return event.payload;\n}\n")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def queue(app, monkeypatch, make_tenant, make_user):
    """A tenant with an event script that fails unless `ok`, no retries; letter(payload, type) -> dead letter id."""
    monkeypatch.setitem(app.config, "JSR_EVENT_RETRIES", 0)
    tenant = make_tenant(max_concurrency=10)
    admin = make_user(role="org_admin", tenant=tenant)
    actor = Actor.of(admin)

    def script(name, patterns=("order.*",)):
        created = scripts.create(actor, tenant.id, {"name": name, "type": "event", "event_patterns": list(patterns),
                                                    "source": FAILS_UNLESS_OK})
        return scripts.set_status(actor, tenant.id, created.id, "active").id

    picky = script("Picky")

    def letter(payload, type_="order.paid", script_id=picky):
        with tenant_scope(tenant.id):
            event = outbox.publish(tenant.id, type_, payload)
            db.session.commit()
        with system_scope():
            return db.session.scalar(select(DeadLetter.id).where(DeadLetter.event_id == event.id,
                                                                 DeadLetter.script_id == script_id))

    def signed_in(role="org_admin"):
        return sign_in(app, admin if role == "org_admin" else make_user(role=role, tenant=tenant))

    return {"tenant": tenant, "script": script, "picky": picky, "letter": letter, "signed_in": signed_in}


def _letter(letter_id) -> DeadLetter:
    with system_scope():
        return db.session.get(DeadLetter, letter_id, populate_existing=True)


def _count(model) -> int:
    with system_scope():
        return db.session.scalar(select(func.count()).select_from(model))


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="dead-letter" data-id="([^"]+)"', html)


def test_the_list_filters_by_script_type_time_and_status(queue):
    client = queue["signed_in"]()
    other = queue["script"]("Refunds", ["refund.*"])
    paid = queue["letter"]({"n": 1})
    refund = queue["letter"]({"n": 2}, "refund.made", other)
    page = client.get("/dead-letters")
    assert page.status_code == 200 and set(_rows(page.text)) == {paid, refund}
    nav = re.search(r'<nav class="main-nav".*?</nav>', page.text, re.S).group(0)
    assert 'href="/dead-letters" aria-current="page"' in nav
    assert "2 dead letters waiting match the filters." in page.text and "not ok" in page.text
    assert _rows(client.get(f"/dead-letters?script_id={other}").text) == [refund]
    assert _rows(client.get("/dead-letters?event_type=order.paid").text) == [paid]
    assert _rows(client.get("/dead-letters?since=2000-01-01&until=2999-01-01").text) == [refund, paid]
    assert _rows(client.get("/dead-letters?until=2000-01-01").text) == []
    assert _rows(client.get("/dead-letters?status=replayed").text) == []
    partial = client.get("/dead-letters?event_type=refund.made", headers=HTMX).text
    assert "<html" not in partial and _rows(partial) == [refund]
    assert "No dead letters match these filters." in client.get("/dead-letters?event_type=x.y").text


def test_pages_of_fifty(queue, monkeypatch):
    from portal.web.dead_letters import routes

    monkeypatch.setattr(routes, "PAGE_SIZE", 2)
    client = queue["signed_in"]()
    letters = [queue["letter"]({"n": n}) for n in range(3)]
    first, second = client.get("/dead-letters").text, client.get("/dead-letters?offset=2").text
    assert _rows(first) == letters[:0:-1] and _rows(second) == letters[:1]
    assert "offset=2" in first and "Newer" in second and "offset=2" not in second
    assert _rows(client.get("/dead-letters?offset=-3").text) == letters[:0:-1]  # unusable paging: the first page


@pytest.mark.parametrize("query, field", [("script_id=nope", "script_id"), ("since=yesterday", "since"),
                                          ("until=2026-13-01", "until"), ("status=lost", "status"),
                                          ("event_type=" + "x" * 201, "event_type")])
def test_bad_filter_values_are_a_translated_400(queue, query, field):
    client = queue["signed_in"]()
    queue["letter"]({"n": 1})
    answer = client.get(f"/dead-letters?{query}")
    assert answer.status_code == 400 and 'id="filter-errors"' in answer.text
    assert f"<strong>{field}</strong>" in answer.text and _rows(answer.text) == []
    client.post("/lang/ru")
    assert "Эти фильтры нельзя применить" in client.get(f"/dead-letters?{query}").text


def test_the_detail_shows_payload_error_and_the_failed_executions(queue, app, monkeypatch):
    monkeypatch.setitem(app.config, "JSR_EVENT_RETRIES", 1)
    monkeypatch.setitem(app.config, "JSR_RETRY_DELAY_S", 0)
    client = queue["signed_in"]("viewer")
    queue["letter"]({"ok": False, "order": 1234})  # attempt 1 failed; attempt 2 waits in the queue's schedule
    with system_scope():
        retry = db.session.scalar(select(Execution.id).where(Execution.status == "pending"))
    tasks.run_execution(retry)  # what the consumer does when the time comes
    with system_scope():
        letter_id = db.session.scalar(select(DeadLetter.id))
    letter = _letter(letter_id)
    page = client.get(f"/dead-letters/{letter_id}")
    assert page.status_code == 200
    assert '"order": 1234' in page.text and "The script threw an error" in page.text and "not ok" in page.text
    assert page.text.count('<tr class="execution" data-status="failed">') == letter.attempts == 2
    assert f'/executions/{letter.execution_id}"' in page.text
    # A viewer reads; no replay, edit or discard controls.
    assert 'id="replay"' not in page.text and 'id="edit-form"' not in page.text and 'id="discard"' not in page.text


def test_replay_one_then_it_shows_its_new_execution(queue):
    client = queue["signed_in"]("developer")
    letter_id = queue["letter"]({"ok": False})
    page = client.get(f"/dead-letters/{letter_id}").text
    assert 'id="replay"' in page and 'id="edit-form"' in page and 'id="discard"' not in page  # developers: no delete
    answer = client.post(f"/dead-letters/{letter_id}/replay")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/dead-letters/{letter_id}")
    letter = _letter(letter_id)
    assert letter.status == "replayed" and letter.replay_execution_id
    detail = client.get(f"/dead-letters/{letter_id}").text
    assert "Replayed." in detail and f'href="/executions/{letter.replay_execution_id}"' in detail
    listed = client.get("/dead-letters?status=replayed").text
    assert _rows(listed) == [letter_id] and f'href="/executions/{letter.replay_execution_id}"' in listed
    again = client.post(f"/dead-letters/{letter_id}/replay", headers={"Accept": "application/json"})
    assert again.status_code == 409 and again.get_json()["error"] == "This dead letter was replayed already."
    with system_scope():
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "dead_letter.replay",
                                                            AuditEvent.target_id == letter_id)) == 1


def test_an_edited_replay_runs_the_edited_payload_and_invalid_json_replays_nothing(queue):
    client = queue["signed_in"]()
    letter_id = queue["letter"]({"ok": False, "n": 1})
    runs = _count(Execution)
    for text, message in [('{"ok": true,', "Not valid JSON: line 1, column 13."), ('{"ok": NaN}', "Not valid JSON."),
                          ("[" * 70 + "]" * 70, "Nested more than 64 levels deep.")]:
        refused = client.post(f"/dead-letters/{letter_id}/replay", data={"payload": text})
        assert refused.status_code == 400 and message in refused.text, text
        assert 'id="payload-error"' in refused.text and text.replace('"', "&#34;")[:20] in refused.text
    assert _count(Execution) == runs and _letter(letter_id).status == "dead"
    client.post("/lang/uz")
    assert "JSON emas" in client.post(f"/dead-letters/{letter_id}/replay", data={"payload": "{"}).text
    answer = client.post(f"/dead-letters/{letter_id}/replay", data={"payload": '{"ok": true, "n": 2}'})
    assert answer.status_code == 302
    letter = _letter(letter_id)
    with system_scope():
        replay = db.session.get(Execution, letter.replay_execution_id)
        assert (replay.status, replay.output) == ("completed", {"ok": True, "n": 2})
    assert letter.payload == {"ok": False, "n": 1}  # the dead letter keeps the original


def test_batch_replay_of_a_selection_and_of_everything_matching(queue):
    client = queue["signed_in"]("developer")
    refunds = queue["script"]("Refunds", ["refund.*"])
    paid = [queue["letter"]({"n": n}) for n in range(3)]
    refund = queue["letter"]({"n": 9}, "refund.made", refunds)
    page = client.get("/dead-letters?event_type=order.paid").text
    assert 'data-confirm="Replay 3 dead letters?"' in page and "Replay all 3 matching" in page
    selected = client.post("/dead-letters/replay", data={"ids": paid[:2], "event_type": "order.paid"}, headers=HTMX)
    assert selected.status_code == 204 and selected.headers["HX-Redirect"] == "/dead-letters?event_type=order.paid"
    assert [_letter(i).status for i in paid] == ["replayed", "replayed", "dead"]
    assert "Replayed 2 dead letters." in client.get("/dead-letters").text
    everything = client.post("/dead-letters/replay", data={"all": "1", "event_type": "order.paid"})
    assert everything.status_code == 302
    assert _letter(paid[2]).status == "replayed" and _letter(refund).status == "dead"  # outside the filter
    # The replays failed again (same payload, no retries): each left a dead letter of its own.
    assert 'data-confirm="Replay 3 dead letters?"' in client.get("/dead-letters?event_type=order.paid").text
    nothing = client.post("/dead-letters/replay", data={}, headers={"Accept": "application/json"})
    assert nothing.status_code == 422 and "ids" in nothing.get_json()["fields"]
    bad = client.post("/dead-letters/replay", data={"ids": ["nope"]}, headers={"Accept": "application/json"})
    assert bad.status_code == 422


def test_discard_needs_the_delete_permission(queue):
    letter_id = queue["letter"]({"n": 1})
    assert queue["signed_in"]("developer").post(f"/dead-letters/{letter_id}/discard").status_code == 403
    assert queue["signed_in"]("viewer").post(f"/dead-letters/{letter_id}/replay").status_code == 403
    admin = queue["signed_in"]()
    page = admin.get(f"/dead-letters/{letter_id}").text
    assert 'data-confirm="Discard this dead letter? Its payload is lost."' in page
    answer = admin.post(f"/dead-letters/{letter_id}/discard", headers=HTMX)
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/dead-letters"
    assert _letter(letter_id) is None
    with system_scope():
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "dead_letter.discard")) == 1


def test_unknown_and_other_tenants_ids_are_404(queue, app, make_tenant, make_user):
    letter_id = queue["letter"]({"n": 1})
    stranger = sign_in(app, make_user(role="org_admin", tenant=make_tenant()))
    for client, target in [(stranger, letter_id), (queue["signed_in"](), "nope"),
                           (queue["signed_in"](), "00000000-0000-4000-8000-000000000000")]:
        assert client.get(f"/dead-letters/{target}").status_code == 404
        assert client.post(f"/dead-letters/{target}/replay").status_code == 404
        assert client.post(f"/dead-letters/{target}/replay", data={"payload": "{"}).status_code == 404
        assert client.post(f"/dead-letters/{target}/discard").status_code == 404
        assert client.post("/dead-letters/replay", data={"ids": [target]}).status_code in (302, 422)
    assert _letter(letter_id).status == "dead"
    assert _rows(stranger.get("/dead-letters").text) == []


def test_every_post_needs_the_csrf_token(queue, app):
    letter_id = queue["letter"]({"ok": False})
    client = queue["signed_in"]()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for url, data in [(f"/dead-letters/{letter_id}/replay", {}), (f"/dead-letters/{letter_id}/discard", {}),
                          ("/dead-letters/replay", {"all": "1"})]:
            assert client.post(url, data=data).status_code == 400, url
        assert _letter(letter_id).status == "dead"
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/dead-letters/{letter_id}").text).group(1)
        assert client.post(f"/dead-letters/{letter_id}/replay", data={"csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
