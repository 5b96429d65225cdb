"""Headers and cookies of every answer (issue 8, Build §5)."""

import pytest

from portal import create_app
from portal.extensions import db
from tests.conftest import DEFAULT_PASSWORD


@pytest.mark.parametrize("path", ["/login", "/api/v1/openapi.json", "/api/v1/scripts", "/no-such-page"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin" and response.headers["X-Frame-Options"] == "DENY"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "worker-src 'self' blob:" in policy  # Monaco's language workers


def test_api_answers_and_signed_in_pages_are_not_stored(app, client, make_tenant, make_user):
    assert client.get("/api/v1/scripts").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    user = make_user(role="viewer", tenant=make_tenant())
    client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert client.get("/").headers["Cache-Control"] == "no-store"


def _session_cookie(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))


def test_session_cookies_are_lax_httponly_and_secure_over_https(app, client, make_tenant, make_user):
    user = make_user(role="viewer", tenant=make_tenant())
    data = {"email": user.email, "password": DEFAULT_PASSWORD}
    plain = _session_cookie(client.post("/login", data=data))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    secure = _session_cookie(app.test_client().post("/login", data=data, base_url="https://portal.test"))
    assert "HttpOnly" in secure and "SameSite=Lax" in secure and "Secure" in secure


def test_behind_a_proxy_the_forwarded_scheme_counts(app, db_session, make_tenant, make_user):
    proxied = create_app({**app.config, "JSR_PROXY_HOPS": 1})
    user = make_user(role="viewer", tenant=make_tenant())
    try:
        response = proxied.test_client().post(
            "/login", data={"email": user.email, "password": DEFAULT_PASSWORD},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    finally:
        with proxied.app_context():
            db.engine.dispose()  # its own engine: no connection may outlive the test
    assert "Secure" in _session_cookie(response)
    direct = app.test_client().post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD},
                                    headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in _session_cookie(direct)  # without a configured proxy the header is not trusted
