"""The portal's pages (issue 11): layout, script list, editor, test panel, versions, history, detail,
permissions per role, CSRF, htmx partials and the user's language."""

import csv
import io
import json
import re

import pytest
from sqlalchemy import delete, event, func, select

from portal.extensions import db
from portal.models import AuditEvent, Event, Execution, Script, Tenant, User
from portal.services import executions
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from tests.conftest import backend, sign_in

BROKEN = "function main(input) {\n  return input;\n"
HTMX = {"HX-Request": "true"}
GREETER = "function main(input) {\n  console.warn('hi', input.name);\n  return {n: input.name};\n}\n"


@pytest.fixture
def workspace(app, make_tenant, make_user, make_script):
    """signed_in(role) -> client, and the tenant with one script, for every role of one tenant."""
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    script = make_script(tenant, name="Greeter", author_id=admin.id, source=GREETER)

    def signed_in(role="org_admin"):
        return sign_in(app, admin if role == "org_admin" else make_user(role=role, tenant=tenant))

    return signed_in, tenant, script


def _csrf(client) -> dict[str, str]:
    """The page's CSRF token as the editor sends it (session calls of the JSON API always need it)."""
    return {"X-CSRFToken": re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text).group(1)}


def _count(model, **where):
    with system_scope():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.scalar(query)


def test_every_page_renders_for_an_org_admin(workspace):
    signed_in, _, script = workspace
    client = signed_in()
    run = client.post(f"/scripts/{script.id}/run", json={"input": '{"name": "Ann"}'}).get_json()["url"]
    for url in ["/", "/scripts", "/scripts/new", "/scripts/new?type=http", f"/scripts/{script.id}",
                f"/scripts/{script.id}/versions", f"/scripts/{script.id}/diff", "/executions", run, "/account"]:
        page = client.get(url)
        assert page.status_code == 200, url
        assert 'rel="icon"' in page.text and 'name="csrf-token"' in page.text and "Sign out" in page.text
    nav = re.search(r'<nav class="main-nav".*?</nav>', client.get("/").text, re.S).group(0)
    assert "/scripts" in nav and "/executions" in nav


def test_the_list_searches_filters_pages_and_says_what_to_do_when_empty(app, make_tenant, make_user, make_script):
    tenant = make_tenant(slug="acme")
    client = sign_in(app, make_user(role="developer", tenant=tenant))
    empty = client.get("/scripts").text
    assert "There are no scripts yet." in empty and "/scripts/new?type=http" in empty
    make_script(tenant, name="Order hook", type="http", http_path="orders", http_methods=["POST"], status="active")
    for number in range(30):
        make_script(tenant, name=f"Job {number:02d}")
    found = client.get("/scripts?q=order").text
    assert "Order hook" in found and "Job 01" not in found and "/hooks/acme/orders" in found
    assert "Job" not in client.get("/scripts?type=http").text.split("<tbody>")[1]
    assert "No script matches these filters." in client.get("/scripts?status=paused").text
    first, second = client.get("/scripts").text, client.get("/scripts?offset=25").text
    assert "offset=25" in first and "Job 29" not in first and "Job 29" in second


def test_an_htmx_request_gets_only_the_block(workspace):
    signed_in, _, script = workspace
    client = signed_in()
    partial = client.get("/scripts?q=Greet", headers=HTMX).text
    assert "<html" not in partial and "Greeter" in partial and "<table" in partial
    assert "<html" in client.get("/scripts?q=Greet").text


def test_the_test_panel_runs_unsaved_code_and_stores_nothing(workspace):
    signed_in, _, script = workspace
    client = signed_in("developer")
    source = "function main(input) {\n  console.error('boom soon');\n  return {doubled: input.n * 2};\n}\n"
    answer = client.post("/scripts/test", json={"source": source, "type": "oneoff", "input": '{"n": 21}',
                                                "script_id": script.id})
    assert answer.status_code == 200
    assert '"doubled": 42' in answer.text and "boom soon" in answer.text and 'class="log-error"' in answer.text
    thrown = client.post("/scripts/test", json={"source": "function main() {\n  null.x;\n}\n", "type": "oneoff"})
    assert 'data-line="2"' in thrown.text and "The script threw an error" in thrown.text
    assert _count(Execution) == 0
    bad_input = client.post("/scripts/test", json={"source": source, "type": "oneoff", "input": "{nope"},
                            headers={"Accept": "application/json"})
    assert bad_input.status_code == 422 and "input" in bad_input.get_json()["fields"]


RUDDERSTACK_REQUESTS = [
    {"message": {"type": "track", "event": "Order Completed", "messageId": "m-1", "properties": {"revenue": 10}},
     "metadata": {"sourceId": "s-1", "messageId": "m-1"}, "destination": {"ID": "d-1", "Config": {}}},
    {"message": {"type": "track", "event": "Order Completed", "messageId": "m-2", "properties": {"revenue": -1}},
     "metadata": {"sourceId": "s-1", "messageId": "m-2"}, "destination": {"ID": "d-1", "Config": {}}},
]


def test_the_test_panel_runs_a_transformation_over_a_rudderstack_request_list(workspace):
    signed_in, _, script = workspace
    client = signed_in("developer")
    source = ("export function transformEvent(event, metadata) {\n"
              "  log('seen ' + metadata(event).messageId);\n"
              "  if (event.properties.revenue < 0) throw new Error('negative revenue');\n"
              "  event.properties.cents = event.properties.revenue * 100;\n  return event;\n}\n")
    # The script's type says `main`; the source's transformEvent makes it a transformation all the same.
    answer = client.post("/scripts/test", json={"source": source, "type": "oneoff", "script_id": script.id,
                                                "input": json.dumps(RUDDERSTACK_REQUESTS)})
    assert answer.status_code == 200 and "<html" not in answer.text
    rows = dict(re.findall(r'<li data-status-code="(\d+)">(.*?)</li>', answer.text, re.S))
    assert sorted(rows) == ["200", "400"]  # one event out, one failed alone
    assert '"cents": 1000' in rows["200"] and "negative revenue" in rows["400"]
    assert "seen m-1" in answer.text and "seen m-2" in answer.text  # the transformation's log() lines
    assert _count(Execution) == 0
    not_a_list = client.post("/scripts/test", json={"source": source, "type": "oneoff", "input": '{"n": 1}'},
                             headers={"Accept": "application/json"})
    assert not_a_list.status_code == 422 and "events" in not_a_list.get_json()["fields"]
    viewer = signed_in("viewer")
    assert viewer.post("/scripts/test", json={"source": source, "type": "oneoff",
                                              "input": json.dumps(RUDDERSTACK_REQUESTS)}).status_code == 403


def test_server_validation_gives_markers_with_line_and_column(workspace):
    signed_in, _, _ = workspace
    client = signed_in("developer")
    marker = client.post("/scripts/check", json={"source": BROKEN}).get_json()["markers"]
    assert len(marker) == 1 and marker[0]["line"] == 3 and marker[0]["column"] >= 1
    assert client.post("/scripts/check", json={"source": BROKEN + "}\n"}).get_json() == {"markers": []}


def test_viewers_get_a_read_only_workspace(workspace):
    signed_in, _, script = workspace
    client = signed_in("viewer")
    editor = client.get(f"/scripts/{script.id}").text
    assert 'data-writable="false"' in editor and "Read only" in editor and "<fieldset disabled" in editor
    assert 'id="save"' not in editor and 'id="run-test"' not in editor and "Delete script" not in editor
    assert "New script" not in client.get("/scripts").text
    assert "Roll back" not in client.get(f"/scripts/{script.id}/versions").text
    refused = [client.get("/scripts/new"), client.post("/scripts/test", json={"source": "x", "type": "oneoff"}),
               client.post(f"/scripts/{script.id}/run", json={}), client.post("/scripts/check", json={"source": "x"}),
               client.post(f"/scripts/{script.id}/rollback", data={"version": "1"}),
               client.post(f"/scripts/{script.id}/delete"), client.post(f"/scripts/{script.id}/status",
                                                                         data={"status": "active"})]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert client.get("/executions").status_code == 200


def test_developers_cannot_delete(workspace):
    signed_in, _, script = workspace
    client = signed_in("developer")
    editor = client.get(f"/scripts/{script.id}").text
    assert 'id="save"' in editor and 'id="run-test"' in editor and "Delete script" not in editor
    assert client.post(f"/scripts/{script.id}/delete").status_code == 403
    assert _count(Script, id=script.id) == 1
    admin = signed_in()
    assert "Delete script" in admin.get(f"/scripts/{script.id}").text
    gone = admin.post(f"/scripts/{script.id}/delete", headers=HTMX)
    assert gone.status_code == 204 and gone.headers["HX-Redirect"] == "/scripts"
    assert _count(Script, id=script.id) == 0


def test_forms_and_htmx_requests_need_the_csrf_token(app, workspace):
    signed_in, _, script = workspace
    client = signed_in()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        body = {"source": "function main() { return 1 }", "type": "oneoff"}
        assert client.post("/scripts/test", json=body).status_code == 400
        assert client.post(f"/scripts/{script.id}/rollback", data={"version": "1"}, headers=HTMX).status_code == 400
        assert client.post("/scripts/test", json=body, headers=_csrf(client)).status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_versions_diff_and_audited_rollback(workspace):
    signed_in, tenant, script = workspace
    client = signed_in()
    changed = client.patch(f"/api/v1/scripts/{script.id}", json={"source": "function main() { return 2 }",
                                                                  "change_description": "Return two"},
                           headers=_csrf(client))
    assert changed.status_code == 200 and changed.get_json()["version"] == 2, changed.text
    versions = client.get(f"/scripts/{script.id}/versions").text
    assert "Return two" in versions and "Roll back to this version" in versions
    diff = client.get(f"/scripts/{script.id}/diff?a=1&b=2").text
    assert "console.warn(&#39;hi&#39;, input.name)" in diff and "return 2" in diff
    rolled = client.post(f"/scripts/{script.id}/rollback", data={"version": "1"}, headers=HTMX)
    assert rolled.status_code == 204 and rolled.headers["HX-Redirect"] == f"/scripts/{script.id}"
    with system_scope():
        stored = db.session.get(Script, script.id, populate_existing=True)
    assert stored.current_version == 3 and "console.warn" in stored.source
    assert _count(AuditEvent, action="script.rollback", target_id=script.id) == 1
    assert "Rolled back to version 1" in client.get(f"/scripts/{script.id}").text


def test_history_filters_live_refresh_and_detail(workspace):
    signed_in, _, script = workspace
    client = signed_in("developer")
    ok = client.post(f"/scripts/{script.id}/run", json={"input": '{"name": "Ann"}'}).get_json()["url"]
    failed = client.post(f"/scripts/{script.id}/run", json={"input": "null"}).get_json()["url"]
    history = client.get("/executions").text
    assert history.index(failed) < history.index(ok)  # newest first
    assert history.count('class="execution"') == 2 and 'hx-trigger="every 3s"' in history
    only_failed = client.get("/executions?status=failed", headers=HTMX).text
    assert only_failed.count('class="execution"') == 1 and "<html" not in only_failed
    assert client.get("/executions?trigger=schedule").text.count('class="execution"') == 0
    older = client.get(f"/executions?before={ok.rsplit('/', 1)[1]}").text
    assert older.count('class="execution"') == 0 and 'hx-trigger="every 3s"' not in older  # only page 1 is live
    detail = client.get(ok).text
    assert "hi Ann" in detail and 'class="log-warn"' in detail and '"name": "Ann"' in detail
    assert "Source of version 1, which ran" in detail and 'hx-trigger="every 2s"' not in detail
    broken = client.get(failed).text
    assert "The script threw an error" in broken and 'class="source-line"' in broken
    assert "console.warn(&#39;hi&#39;, input.name);" in broken.split('class="source-line"')[1]
    rerun = client.post(f"{ok}/rerun", headers=HTMX)
    assert rerun.status_code == 204 and rerun.headers["HX-Redirect"].startswith("/executions/")
    assert _count(Execution, script_id=script.id) == 3


def test_a_pending_run_polls_until_it_ends(workspace):
    signed_in, tenant, script = workspace
    client = signed_in()
    with system_scope():
        pending = executions.create_pending(Actor.system(), script, trigger="manual", input={"name": "Bo"})
        db.session.commit()
    assert 'hx-trigger="every 2s"' in client.get(f"/executions/{pending.id}").text
    executions.execute(pending.id)
    fragment = client.get(f"/executions/{pending.id}", headers=HTMX).text
    assert "<html" not in fragment and "hi Bo" in fragment and 'hx-trigger="every 2s"' not in fragment


@pytest.mark.parametrize("lang, words", [("ru", ["Сценарии", "Выполнения", "Выйти"]),
                                         ("uz", ["Skriptlar", "Ishga tushirishlar", "Chiqish"])])
def test_the_language_is_kept_on_the_user(app, workspace, lang, words):
    signed_in, _, script = workspace
    client = signed_in()
    assert client.post(f"/lang/{lang}", headers={"Referer": "/scripts"}).status_code == 302
    with system_scope():
        user = db.session.scalar(select(User).where(User.role == "org_admin", User.language == lang))
    assert user is not None
    again = sign_in(app, user)  # a new session: the language comes from the account
    page = again.get("/scripts").text
    assert all(word in page for word in words), page
    assert f'<html lang="{lang}">' in page


def test_viewers_browse_history_in_russian_and_uzbek_with_local_numbers(workspace):
    signed_in, _, script = workspace
    runner = signed_in("developer")
    detail = runner.post(f"/scripts/{script.id}/run", json={"input": '{"name": "Ann"}'}).get_json()["url"]
    viewer = signed_in("viewer")
    viewer.post("/lang/ru")
    history = viewer.get("/executions").text
    assert "Завершено" in history and "Вручную" in history and "Greeter" in history
    page = viewer.get(detail).text
    assert "Входные данные" in page and re.search(r"\d+,\d КиБ", page)  # a decimal comma in Russian
    viewer.post("/lang/uz")
    assert "Bajarildi" in viewer.get("/executions").text and "Kirish maʼlumotlari" in viewer.get(detail).text


@pytest.mark.parametrize("lang, title", [("ru", "Превышено время выполнения"), ("uz", "Vaqt chegarasiga yetildi")])
def test_errors_are_explained_in_the_users_language(workspace, make_script, lang, title):
    signed_in, tenant, _ = workspace
    quick = make_script(tenant, timeout_ms=300)  # the test run takes this saved script's limits
    client = signed_in()
    client.post(f"/lang/{lang}")
    answer = client.post("/scripts/test", json={"source": "function main() { while (true) {} }", "type": "oneoff",
                                                "script_id": quick.id})
    assert title in answer.text and 'class="engine-message"' in answer.text


def test_preferences_store_the_time_zone(workspace):
    signed_in, _, _ = workspace
    client = signed_in()
    assert client.post("/account/preferences", data={"language": "uz", "timezone": "Asia/Tashkent"}).status_code == 302
    assert client.post("/account/preferences", data={"language": "uz", "timezone": "Mars/Base"}).status_code == 422
    with system_scope():
        user = db.session.scalar(select(User).where(User.role == "org_admin")
                                 .execution_options(populate_existing=True))
    assert (user.language, user.timezone) == ("uz", "Asia/Tashkent")


def test_a_superadmin_chooses_the_tenant_to_act_for(app, workspace, make_user, make_tenant):
    _, tenant, script = workspace
    client = sign_in(app, make_user(role="superadmin"))
    assert client.get("/scripts").status_code == 302
    assert tenant.slug in client.get("/").text
    assert client.post("/tenant", data={"tenant": tenant.slug}).status_code == 302
    assert "Greeter" in client.get("/scripts").text
    assert "Choose another tenant" in client.get("/scripts").text
    assert client.post("/tenant", data={"tenant": "no-such-tenant"}).status_code == 404
    doomed = make_tenant()
    assert client.post("/tenant", data={"tenant": doomed.slug}).status_code == 302
    with db.engine.begin() as connection:  # as the owner, as an operator would remove a tenant (and its trail)
        connection.execute(delete(AuditEvent).where(AuditEvent.tenant_id == doomed.id))
        connection.execute(delete(Tenant).where(Tenant.id == doomed.id))
    assert "Choose a tenant" in client.get("/").text  # the chosen tenant is gone: back to the choice
    assert client.post("/tenant", data={"tenant": ""}).status_code == 302


def test_replay_against_the_draft_compares_old_and_new_outputs(workspace):
    signed_in, _, script = workspace
    client = signed_in("developer")
    for name in ("Ann", "Bo"):
        client.post(f"/scripts/{script.id}/run", json={"input": json.dumps({"name": name})})
    client.post(f"/scripts/{script.id}/run", json={"input": "null"})  # fails: input.name of null
    draft = ("function main(input) {\n  if (!input) return {n: null};\n"
             "  return {n: input.name === 'Bo' ? 'Bob' : input.name};\n}\n")
    runs_before = _count(Execution)
    table = client.post(f"/scripts/{script.id}/replay", json={"source": draft, "limit": "10"}).text
    assert "<html" not in table and table.count("<tr data-verdict=") == 3
    assert "Same: 1" in table and "Changed: 1" in table and "Now passing: 1" in table
    changed = table.split('data-verdict="changed"')[1].split("</tr>")[0]
    assert '<span class="removed">-   &#34;n&#34;: &#34;Bo&#34;</span>' in changed
    assert '<span class="added">+   &#34;n&#34;: &#34;Bob&#34;</span>' in changed
    only_failed = client.post(f"/scripts/{script.id}/replay", json={"source": "function main() { throw 1 }",
                                                                    "status": "completed"}).text
    assert only_failed.count("<tr data-verdict=") == 2 and "Now failing: 2" in only_failed
    assert _count(Execution) == runs_before  # replays store nothing
    assert signed_in("viewer").post(f"/scripts/{script.id}/replay", json={"source": draft}).status_code == 403


def test_history_searches_inside_inputs_and_outputs_and_exports_the_filtered_list(workspace):
    signed_in, _, script = workspace
    client = signed_in("viewer")
    runner = signed_in("developer")
    for name in ("order-1234", "order-5678", "=HYPERLINK(\"x\")"):
        runner.post(f"/scripts/{script.id}/run", json={"input": json.dumps({"name": name})})
    found = client.get("/executions?q=1234").text
    assert found.count('class="execution"') == 1
    assert client.get("/executions?q=ORDER-").text.count('class="execution"') == 2
    assert client.get("/executions?q=%25").text.count('class="execution"') == 0  # a LIKE wildcard is literal
    assert "/executions/export.csv?q=1234" in found
    exported = client.get("/executions/export.json?q=order")
    assert exported.headers["Content-Disposition"].startswith('attachment; filename="executions-')
    items = exported.get_json()["items"]
    assert sorted(i["input"]["name"] for i in items) == ["order-1234", "order-5678"]
    assert {i["script"] for i in items} == {"Greeter"} and all(i["status"] == "completed" for i in items)
    table = list(csv.DictReader(io.StringIO(client.get("/executions/export.csv").text)))
    assert len(table) == 3 and {row["script"] for row in table} == {"Greeter"}
    formula = next(row for row in table if "HYPERLINK" in row["input"])
    assert json.loads(formula["output"]) == {"n": '=HYPERLINK("x")'}  # JSON text: never a bare formula
    assert client.get("/executions/export.csv?status=failed").text.count("\n") == 1  # the header only


def _stored_runs(tenant, script, *pairs):
    """Executions of `script` with these (input, output) pairs; their ids in the same order."""
    with system_scope():
        runs = [Execution(tenant_id=tenant.id, script_id=script.id, status="completed", trigger="api",
                          input=given, output=made, logs=[]) for given, made in pairs]
        db.session.add_all(runs)
        db.session.commit()
        return [run.id for run in runs]


def test_history_search_finds_a_value_inside_an_input_or_an_output(workspace):
    signed_in, tenant, script = workspace
    by_input, by_output, _ = _stored_runs(tenant, script, ({"order": 1234}, {"ok": True}),
                                          ({"order": 1}, {"receipt": "RCPT-9876"}), ({"order": 2}, None))
    client = signed_in("viewer")

    def found(query):
        return re.findall(r'href="/executions/([0-9a-f-]{36})"', client.get(f"/executions?q={query}").text)

    assert found("1234") == [by_input]
    assert found("rcpt-9876") == [by_output]  # in the output, whatever the case
    assert found("%22order%22") and found("5555") == [] and found("o_der") == []  # `_` matches only itself


def test_history_search_uses_the_trigram_indexes_on_postgresql(app, workspace):
    if backend(app) != "postgresql":
        pytest.skip("the trigram indexes exist on PostgreSQL only")
    signed_in, tenant, script = workspace
    _stored_runs(tenant, script, *[({"order": number}, {"total": number * 3}) for number in range(300)])
    searches = []

    def keep_the_search(connection, cursor, statement, parameters, context, executemany):
        if "ILIKE" in statement:
            searches.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep_the_search)
    try:
        assert signed_in("viewer").get("/executions?q=%22order%22:%20123%7D").text.count('class="execution"') == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", keep_the_search)
    [(statement, parameters)] = searches
    # On a table this small, reading the tenant's rows through its btree index costs less than the trigram
    # indexes (they win from some ten thousand runs of one tenant up): without that index, in a transaction
    # rolled back, and without sequential scans, the plan shows the search's own expression is indexed.
    with db.engine.connect() as connection, connection.begin() as transaction:
        for index in ("ix_executions_dashboard", "ix_executions_script_id_figures", "ix_executions_tenant_id_status"):
            connection.exec_driver_sql(f"DROP INDEX {index}")
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
        transaction.rollback()
    assert "ix_executions_input_trgm" in plan and "ix_executions_output_trgm" in plan, plan


def test_history_pages_by_key(workspace):
    signed_in, tenant, script = workspace
    with system_scope():
        for number in range(120):
            db.session.add(Execution(tenant_id=tenant.id, script_id=script.id, status="completed", trigger="api",
                                     input={"n": number}, logs=[]))
        db.session.commit()
    client = signed_in("viewer")
    seen, url = [], "/executions"
    while url:
        page = client.get(url).text
        seen += re.findall(r'href="/executions/([0-9a-f-]{36})"', page)
        older = re.search(r'href="(/executions\?before=[0-9a-f-]{36})">Older', page)
        url = older.group(1).replace("&amp;", "&") if older else None
    assert len(seen) == len(set(seen)) == 120
    with system_scope():
        newest_first = db.session.scalars(select(Execution.id).order_by(Execution.created_at.desc(),
                                                                        Execution.id.desc())).all()
    assert seen == newest_first
    assert client.get(f"/executions?before={script.id}").status_code == 404  # not an execution of this tenant


def test_the_autosaved_draft_is_no_version_and_comes_back_until_saved(workspace):
    signed_in, _, script = workspace
    client = signed_in("developer")
    draft = GREETER.replace("'hi'", "'hello'")
    assert client.post(f"/scripts/{script.id}/draft", json={"source": draft}).status_code == 204
    with system_scope():
        stored = db.session.get(Script, script.id, populate_existing=True)
    assert (stored.current_version, stored.source, stored.draft_source) == (1, GREETER, draft)
    assert _count(AuditEvent, target_id=script.id) == 0
    editor = client.get(f"/scripts/{script.id}").text
    assert "Restored the draft autosaved" in editor and "console.warn(&#39;hello&#39;" in editor
    diff = client.get(f"/scripts/{script.id}/diff?a=1&b=draft").text
    assert "the autosaved draft" in diff and "console.warn(&#39;hello&#39;" in diff
    assert "Restored the draft" not in signed_in("viewer").get(f"/scripts/{script.id}").text
    saved = client.patch(f"/api/v1/scripts/{script.id}", json={"source": draft}, headers=_csrf(client))
    assert saved.get_json()["version"] == 2
    assert "Restored the draft" not in client.get(f"/scripts/{script.id}").text
    client.post(f"/scripts/{script.id}/draft", json={"source": draft + "// more\n"})
    client.post(f"/scripts/{script.id}/draft", json={"source": draft})  # back to the saved text: no draft
    with system_scope():
        assert db.session.get(Script, script.id, populate_existing=True).draft_source is None
    assert signed_in("viewer").post(f"/scripts/{script.id}/draft", json={"source": "x"}).status_code == 403


def test_the_detail_shows_what_a_run_touched_and_the_retry_chain_of_its_event(workspace):
    signed_in, tenant, script = workspace
    client = signed_in()
    with system_scope():
        event_row = Event(tenant_id=tenant.id, type="order.paid", payload={"n": 1})
        db.session.add(event_row)
        db.session.flush()
        runs = [Execution(tenant_id=tenant.id, script_id=script.id, status=status, trigger="event", attempt=n,
                          event_id=event_row.id, input={"n": 1}, outbound_calls=calls)
                for n, status, calls in ((1, "failed", []), (2, "completed", [
                    {"api": "db", "method": "insert", "target": "orders", "status": None, "ms": 1.5, "bytes": 40,
                     "ok": True}]))]
        db.session.add_all(runs)
        db.session.commit()
        first, second = (run.id for run in runs)
    page = client.get(f"/executions/{second}").text
    assert 'class="outbound-calls"' in page and "<td>orders</td>" in page and "<td>insert</td>" in page
    chain = page.split('class="attempts"')[1]
    assert f'href="/executions/{first}"' in chain and "<strong>Attempt 2</strong>" in chain
    lone = client.get(client.post(f"/scripts/{script.id}/run", json={"input": '{"name": "Ann"}'}).get_json()["url"])
    assert 'class="attempts"' not in lone.text and 'class="outbound-calls"' not in lone.text
