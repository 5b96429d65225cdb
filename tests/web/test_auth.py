"""Session login with CSRF-protected forms and throttling."""

import re
import threading

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, User
from portal.services import accounts
from portal.services.rbac import Role
from portal.tenancy import system_scope


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_login_logout_with_csrf(csrf_app, db_session, make_tenant, make_user):
    client = csrf_app.test_client()
    user = make_user(role=Role.DEVELOPER.value, tenant=make_tenant(), password="correct-horse")
    page = client.get("/login")
    no_token = client.post("/login", data={"email": user.email, "password": "correct-horse"})
    assert no_token.status_code == 400  # CSRF rejected
    response = client.post("/login", data={"email": user.email, "password": "correct-horse",
                                           "csrf_token": _token(page.text)})
    assert response.status_code == 302
    home = client.get("/")
    assert home.status_code == 200 and user.email in home.text


def _alert(html: str) -> str:
    return re.search(r'role="alert">([^<]*)<', html).group(1)


def test_wrong_password_then_lockout(app, client, db_session, make_tenant, make_user):
    user = make_user(role="viewer", tenant=make_tenant(), password="correct-horse")
    for _ in range(app.config["JSR_LOGIN_ATTEMPTS"]):
        assert client.post("/login", data={"email": user.email, "password": "wrong"}).status_code == 401
    locked = client.post("/login", data={"email": user.email, "password": "correct-horse"})
    unknown = client.post("/login", data={"email": "nobody@example.test", "password": "correct-horse"})
    assert locked.status_code == unknown.status_code == 401
    assert _alert(locked.text) == _alert(unknown.text) and "or the account is locked" in _alert(locked.text)


def test_pages_need_login(client, db_session):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_page_in_russian_and_uzbek(client, db_session):
    assert "Войти" in client.get("/login?lang=ru").text
    assert "Kirish" in client.get("/login?lang=uz").text


@pytest.mark.parametrize("target, expected", [
    ("/?tab=1", "/?tab=1"), ("//evil.test/", "/"), ("/\\evil.test/", "/"), ("https://evil.test/", "/"),
    ("/\t/evil.test/", "/"), ("\t//evil.test/", "/"), ("/\n/evil.test", "/"), ("/ /evil.test", "/"),
    ("javascript:alert(1)", "/")])
def test_login_redirects_only_within_the_site(client, db_session, make_tenant, make_user, target, expected):
    user = make_user(role="viewer", tenant=make_tenant(), password="correct-horse")
    response = client.post("/login", query_string={"next": target},
                           data={"email": user.email, "password": "correct-horse"})
    assert response.status_code == 302 and response.headers["Location"] == expected


def test_session_api_calls_need_the_csrf_header(csrf_app, db_session, make_tenant, make_user):
    client = csrf_app.test_client()
    user = make_user(role="developer", tenant=make_tenant(), password="correct-horse")
    page = client.get("/login")
    token = _token(page.text)
    client.post("/login", data={"email": user.email, "password": "correct-horse", "csrf_token": token})
    payload = {"name": "Via session", "type": "oneoff", "source": "function main() { return 1 }"}
    assert client.get("/api/v1/scripts").status_code == 200
    assert client.post("/api/v1/scripts", json=payload).status_code == 400
    created = client.post("/api/v1/scripts", json=payload, headers={"X-CSRFToken": token})
    assert created.status_code == 201


def test_parallel_wrong_passwords_lock_the_account(app, db_session, make_tenant, make_user):
    user = make_user(role="viewer", tenant=make_tenant(), password="correct-horse")
    start = threading.Barrier(15)

    def guess():
        with app.app_context():
            start.wait()
            assert accounts.authenticate(user.email, "wrong guess") is None

    threads = [threading.Thread(target=guess) for _ in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with system_scope():
        stored = db.session.get(User, user.id, populate_existing=True)
    assert stored.failed_logins == 15 and stored.locked_until is not None
    assert accounts.authenticate(user.email, "correct-horse") is None


def test_sign_ins_failures_and_lockouts_are_audited(app, client, db_session, make_tenant, make_user):
    user = make_user(role="viewer", tenant=make_tenant(), password="correct-horse")
    client.post("/login", data={"email": "nobody@example.test", "password": "x"})
    assert client.post("/login", data={"email": user.email, "password": "correct-horse"}).status_code == 302
    client.post("/logout")
    for _ in range(app.config["JSR_LOGIN_ATTEMPTS"]):
        client.post("/login", data={"email": user.email, "password": "wrong"})
    with system_scope():
        events = db.session.execute(select(AuditEvent.action, AuditEvent.target_id, AuditEvent.summary)).all()
    actions = [(action, target) for action, target, _ in events]
    assert ("auth.failed", None) in actions and ("auth.login", user.id) in actions
    assert actions.count(("auth.failed", user.id)) == app.config["JSR_LOGIN_ATTEMPTS"]
    assert actions.count(("auth.locked", user.id)) == 1


def test_sign_ins_are_rate_limited_per_client_address(app, client, db_session, make_tenant, make_user):
    user = make_user(role="viewer", tenant=make_tenant(), password="correct-horse")
    app.config["JSR_LOGIN_RATE"] = "3 per minute"
    try:
        attempts = [client.post("/login", data={"email": f"u{i}@example.test", "password": "x"},
                                environ_base={"REMOTE_ADDR": "127.0.0.77"}) for i in range(3)]
        refused = client.post("/login", data={"email": user.email, "password": "correct-horse"},
                              environ_base={"REMOTE_ADDR": "127.0.0.77"})
        elsewhere = client.post("/login", data={"email": user.email, "password": "correct-horse"},
                                environ_base={"REMOTE_ADDR": "127.0.0.78"})
    finally:
        app.config["JSR_LOGIN_RATE"] = "1000 per minute"
    assert [a.status_code for a in attempts] == [401, 401, 401]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) == 60
    assert elsewhere.status_code == 302
