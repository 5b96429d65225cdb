"""The dashboard and the audit log pages (issue 12): who sees them, the range switch, translated labels,
filters, pages by key, the before → after table and the CSV export."""

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Execution
from portal.services import audit, scripts
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from tests.conftest import sign_in

HTMX = {"HX-Request": "true"}


@pytest.fixture
def tenant_with_runs(app, make_tenant, make_user, make_script):
    """signed_in(role) -> client of a tenant whose script 'Checkout' ran 4 times in the last hour (1 failed)."""
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant, name="Ada Admin")
    script = make_script(tenant, name="Checkout", author_id=admin.id)
    now = datetime.now(UTC)
    with system_scope():
        db.session.add_all(Execution(tenant_id=tenant.id, script_id=script.id, status=status, trigger="api",
                                     duration_ms=ms, created_at=now - timedelta(minutes=minutes))
                           for status, ms, minutes in [("completed", 10.0, 5), ("completed", 20.0, 15),
                                                       ("failed", 30.0, 25), ("completed", 40.0, 35)])
        db.session.commit()

    def signed_in(role="org_admin"):
        return sign_in(app, admin if role == "org_admin" else make_user(role=role, tenant=tenant))

    return signed_in, tenant, admin, script


def _chart_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)
                      .group(1))


@pytest.mark.parametrize("role", ["org_admin", "developer", "viewer"])
def test_every_role_of_the_tenant_sees_its_dashboard(tenant_with_runs, role):
    signed_in, *_ = tenant_with_runs
    page = signed_in(role).get("/?range=1h")
    assert page.status_code == 200
    assert '<strong id="total-runs">4</strong>' in page.text
    assert '<strong id="error-rate">25.0%</strong>' in page.text  # 1 failed of 4 that ended
    assert "25 ms / 38.5 ms / 39.7 ms" in page.text  # percentile_cont of 10, 20, 30, 40
    assert re.search(r'id="failing">.*Checkout.*<td>1</td><td>4</td>', page.text, re.S)
    runs = _chart_data(page.text)["runs"]
    assert len(runs["labels"]) == 61
    assert {d["label"]: sum(d["data"]) for d in runs["datasets"]} == {"Completed": 3, "Failed": 1}
    assert (runs["x"], runs["y"]) == ("Time", "Runs")


def test_the_range_switch_answers_htmx_with_the_figures_alone(tenant_with_runs):
    signed_in, *_ = tenant_with_runs
    client = signed_in()
    whole = client.get("/")
    assert 'data-range="24h"' in whole.text and "<html" in whole.text  # 24 hours unless asked
    part = client.get("/?range=30d", headers=HTMX)
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.lstrip().startswith('<div id="figures"')
    assert len(_chart_data(part.text)["runs"]["labels"]) == 31
    assert 'aria-current="true">30 days' in re.sub(r"\s+", " ", part.text)


@pytest.mark.parametrize("value", ["2d", "", "1H", "24h;drop", "x" * 500])
def test_a_range_that_is_not_offered_is_a_translated_field_error(tenant_with_runs, value):
    signed_in, *_ = tenant_with_runs
    client = signed_in("viewer")
    refused = client.get("/", query_string={"range": value, "lang": "ru"})
    assert refused.status_code == 422
    assert "range" in refused.text and "Выберите одно из: 1h, 24h, 7d, 30d." in refused.text
    api_style = client.get("/", query_string={"range": value}, headers={"Accept": "application/json"})
    assert api_style.status_code == 422 and "range" in api_style.get_json()["fields"]


def test_chart_labels_legends_and_axis_titles_are_in_the_users_language(tenant_with_runs):
    signed_in, *_ = tenant_with_runs
    client = signed_in()
    for lang, words in {"ru": ("Время", "Запусков", "Завершено", "Ошибка", "Доля ошибок, %"),
                        "uz": ("Vaqt", "Ishga tushirishlar", "Bajarildi", "Xatolar ulushi, %")}.items():
        page = client.get(f"/?range=1h&lang={lang}")
        charts = json.dumps(_chart_data(page.text), ensure_ascii=False)
        for word in words:
            assert word in charts or word in page.text, (lang, word)
        assert "Time" not in charts and "Error rate" not in charts


def test_a_superadmin_still_chooses_a_tenant_first_then_sees_its_dashboard_and_audit(app, tenant_with_runs,
                                                                                   make_user):
    _, tenant, *_ = tenant_with_runs
    client = sign_in(app, make_user(role="superadmin"))
    assert "Choose a tenant" in client.get("/").text
    assert client.get("/audit").status_code == 302
    client.post("/tenant", data={"tenant": tenant.slug})
    assert '<strong id="total-runs">4</strong>' in client.get("/?range=1h").text
    assert client.get("/audit").status_code == 200


@pytest.mark.parametrize("role", ["developer", "viewer"])
def test_developers_and_viewers_get_no_audit_link_and_403_on_the_page(tenant_with_runs, role):
    signed_in, *_ = tenant_with_runs
    client = signed_in(role)
    nav = re.search(r'<nav class="main-nav".*?</nav>', client.get("/").text, re.S).group(0)
    assert "/audit" not in nav
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def _trail(admin, tenant, script, other_user):
    """Real audited changes: a rename and a source change by the admin, a status change by another user."""
    actor = Actor.of(admin)
    scripts.update(actor, tenant.id, script.id, {"name": "Checkout v2", "source": "function main(input) {\n"
                                                 "  return input;\n}\n// two\n", "change_description": "rename"})
    scripts.set_status(Actor.of(other_user), tenant.id, script.id, "active")


def test_the_audit_page_filters_pages_and_shows_before_and_after(app, tenant_with_runs, make_user):
    signed_in, tenant, admin, script = tenant_with_runs
    other = make_user(role="org_admin", tenant=tenant, name="Olga Other")
    _trail(admin, tenant, script, other)
    client = signed_in()
    nav = re.search(r'<nav class="main-nav".*?</nav>', client.get("/").text, re.S).group(0)
    assert 'href="/audit"' in nav

    page = client.get("/audit?action=script.update").text
    entries = re.findall(r'<tr class="audit-entry" data-action="([^"]+)"', page)
    assert entries == ["script.update"]
    assert '<td title="script.update">Script updated</td>' in page  # the action by its translated name
    assert "Скрипт изменён" in client.get("/audit?action=script.update", headers={"Accept-Language": "ru"}).text
    row = re.search(r'<tr data-field="name">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="before">Checkout</td><td class="after">Checkout v2</td>', row)
    assert re.search(r'data-field="source">.*?3 lines</td><td class="after">4 lines', page, re.S)
    assert f"/scripts/{script.id}/diff?b=2" in page  # the source itself in Monaco's diff
    assert "Ada Admin" in page

    by_user = client.get(f"/audit?user_id={other.id}").text
    assert re.findall(r'data-action="([^"]+)"', by_user) == ["script.status"]
    assert "Olga Other" in by_user
    assert re.findall(r'data-action="([^"]+)"', client.get(f"/audit?target_type=script&target_id={script.id}").text
                      ) == ["script.status", "script.update"]
    today = datetime.now(UTC).date()
    assert "script.update" in client.get(f"/audit?since={today}&until={today}").text
    assert "No audit entries match" in client.get(f"/audit?until={today - timedelta(days=1)}").text
    part = client.get("/audit?action=script.status", headers=HTMX)
    assert "<html" not in part.text and "script.status" in part.text


def test_audit_pages_follow_by_key(app, tenant_with_runs):
    signed_in, tenant, admin, _ = tenant_with_runs
    with system_scope():
        for n in range(53):
            audit.record(Actor.of(admin), "script.run", tenant_id=tenant.id, target_type="script", target_id=None,
                         summary=f"run {n}")
        db.session.commit()
    client = signed_in()
    first = client.get("/audit?action=script.run").text
    older = re.search(r'href="(/audit\?before=[^"]+)"', first).group(1).replace("&amp;", "&")
    assert "action=script.run" in older
    second = client.get(older).text
    shown = re.findall(r"<p>run (\d+)</p>", first) + re.findall(r"<p>run (\d+)</p>", second)
    assert sorted(map(int, shown)) == list(range(53)) and len(shown) == 53
    assert 'href="/audit?before=' not in second


@pytest.mark.parametrize("query", ["user_id=not-an-id", "target_id=x", "since=yesterday", "until=2026-13-01",
                                   "action=" + "a" * 65, "before=00000000-0000-0000-0000-000000000000"])
def test_bad_audit_filters_are_translated_client_errors(tenant_with_runs, query):
    signed_in, *_ = tenant_with_runs
    answer = signed_in().get(f"/audit?{query}&lang=ru")
    assert answer.status_code in (404, 422)
    assert "<h1>" in answer.text and ("найден" in answer.text or "недопустим" in answer.text.lower()
                                       or "Некоторые поля" in answer.text)


def test_the_csv_export_holds_the_filtered_entries_and_defuses_formulas(app, tenant_with_runs, make_user):
    signed_in, tenant, admin, script = tenant_with_runs
    sly = make_user(role="org_admin", tenant=tenant, name='=HYPERLINK("http://evil.test","x")')
    _trail(admin, tenant, script, sly)
    with system_scope():
        for summary in ("+1+1", "-2", "@SUM(A1)", "\tcmd", "plain"):
            audit.record(Actor.of(admin), "note", tenant_id=tenant.id, target_type="script", target_id=script.id,
                         summary=summary)
        db.session.commit()
    client = signed_in()
    answer = client.get(f"/audit/export.csv?target_id={script.id}")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["action"] for row in rows] == ["note"] * 5 + ["script.status", "script.update"]
    assert [row["summary"] for row in rows[:5]] == ["plain", "'\tcmd", "'@SUM(A1)", "'-2", "'+1+1"]
    assert rows[5]["user"] == "'" + sly.name and rows[5]["user_id"] == sly.id
    update = json.loads(rows[6]["details"])
    assert update["changes"]["name"] == {"before": "Checkout", "after": "Checkout v2"}
    for row in rows:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row.values())
    only_updates = list(csv.DictReader(io.StringIO(client.get("/audit/export.csv?action=script.update").text)))
    assert [row["action"] for row in only_updates] == ["script.update"]
    with system_scope():
        stored = db.session.scalars(select(AuditEvent.summary).where(AuditEvent.action == "note")).all()
    assert "+1+1" in stored  # the trail itself keeps what was recorded; only the export defuses it


def test_the_pages_post_nothing_and_the_nav_links_the_dashboard(tenant_with_runs):
    """Both pages only read (GET forms, no CSRF token needed); a POST to them is refused."""
    signed_in, *_ = tenant_with_runs
    client = signed_in()
    for url in ("/", "/audit"):
        text = client.get(url).text
        main = text[text.index('<main id="main">'):]
        assert 'method="post"' not in main
        assert client.post(url).status_code == 405
