"""Access that can be withdrawn: tokens, users and sessions (issue 8, Build §3)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from portal.extensions import db
from portal.models import ApiToken, Tenant
from portal.services import accounts
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from portal.web.session import SIGNED_IN_AT
from tests.conftest import DEFAULT_PASSWORD

SCRIPT = {"name": "Job", "type": "oneoff", "source": "function main() { return 1 }"}


def _bearer(client, secret):
    def call(method, path, **kwargs):
        return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {secret}"}, **kwargs)

    return call


def _signed_in(app, user):
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.text
    assert client.get("/").status_code == 200
    return client


def _set(model, row_id, **values):
    with system_scope():
        db.session.execute(update(model).where(model.id == row_id).values(**values))
        db.session.commit()


def test_a_token_never_acts_above_its_users_current_role(client, make_tenant, make_user):
    tenant = make_tenant()
    admin, user = make_user(role="org_admin", tenant=tenant), make_user(role="org_admin", tenant=tenant)
    call = _bearer(client, accounts.create_token(Actor.of(user), user.id, "mine")[0])
    assert call("POST", "/scripts", json=SCRIPT).status_code == 201
    accounts.update_user(Actor.of(admin), tenant.id, user.id, {"role": "viewer"})
    assert call("GET", "/scripts").status_code == 200
    assert call("POST", "/scripts", json={**SCRIPT, "name": "Other"}).status_code == 403


def test_org_admins_list_create_and_revoke_tokens(client, make_tenant, make_user):
    tenant = make_tenant()
    admin, developer = make_user(role="org_admin", tenant=tenant), make_user(role="developer", tenant=tenant)
    call = _bearer(client, accounts.create_token(Actor.of(admin), admin.id, "admin")[0])
    created = call("POST", "/tokens", json={"user_id": developer.id, "name": "ci", "role": "viewer",
                                            "expires_in_days": 30})
    assert created.status_code == 201, created.get_json()
    token = created.get_json()
    assert token["role"] == "viewer" and token["expires_at"] and token["secret"].startswith(token["prefix"])
    listed = call("GET", "/tokens").get_json()["items"]
    assert {t["id"] for t in listed} >= {token["id"]} and not any("secret" in t for t in listed)
    ci = _bearer(client, token["secret"])
    assert ci("GET", "/scripts").status_code == 200
    assert call("DELETE", f"/tokens/{token['id']}").get_json()["revoked_at"]
    refused = ci("GET", "/scripts")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    too_high = call("POST", "/tokens", json={"user_id": developer.id, "role": "org_admin"})
    assert too_high.status_code == 422 and "role" in too_high.get_json()["fields"]
    assert _bearer(client, accounts.create_token(Actor.of(developer), developer.id, "d")[0])(
        "GET", "/tokens").status_code == 403


def test_an_expired_token_is_refused(client, make_tenant, make_user):
    user = make_user(role="developer", tenant=make_tenant())
    secret, token = accounts.create_token(Actor.of(user), user.id, "short", expires_in_days=1)
    assert _bearer(client, secret)("GET", "/scripts").status_code == 200
    _set(ApiToken, token.id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert _bearer(client, secret)("GET", "/scripts").status_code == 401


def test_the_cli_lists_and_revokes_tokens(app, make_tenant, make_user):
    tenant = make_tenant()
    user = make_user(role="developer", tenant=tenant)
    secret, token = accounts.create_token(Actor.system(), user.id, "from-cli")
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jsr", "list-tokens", "--tenant", tenant.slug])
    assert listed.exit_code == 0 and token.id in listed.output and secret not in listed.output
    revoked = runner.invoke(args=["jsr", "revoke-token", token.id, "--tenant", tenant.slug])
    assert revoked.exit_code == 0, revoked.output
    assert accounts.actor_for_token(secret) is None
    assert "revoked" in runner.invoke(args=["jsr", "list-tokens", "--tenant", tenant.slug]).output


def test_org_admins_manage_users_through_the_api(client, make_tenant, make_user):
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    call = _bearer(client, accounts.create_token(Actor.of(admin), admin.id, "admin")[0])
    created = call("POST", "/users", json={"email": "New@Example.test", "password": "long-enough", "role": "developer"})
    assert created.status_code == 201, created.get_json()
    user = created.get_json()
    assert user["email"] == "new@example.test" and user["active"] is True
    assert {u["id"] for u in call("GET", "/users").get_json()["items"]} == {admin.id, user["id"]}
    secret, _ = accounts.create_token(Actor.system(), user["id"], "theirs")
    assert call("PATCH", f"/users/{user['id']}", json={"active": False}).get_json()["active"] is False
    assert _bearer(client, secret)("GET", "/scripts").status_code == 401
    _set(type(admin), user["id"], locked_until=datetime.now(UTC) + timedelta(minutes=5), failed_logins=9)
    unlocked = call("PATCH", f"/users/{user['id']}", json={"unlock": True, "active": True}).get_json()
    assert unlocked["locked_until"] is None and unlocked["active"] is True
    assert accounts.authenticate("new@example.test", "long-enough") is not None
    assert call("PATCH", f"/users/{admin.id}", json={"role": "viewer"}).status_code == 409
    stranger = make_user(role="viewer")
    assert call("PATCH", f"/users/{stranger.id}", json={"active": False}).status_code == 404


@pytest.mark.parametrize("withdrawal", ["logout", "role", "deactivation", "tenant"])
def test_withdrawals_end_every_session(app, db_session, make_tenant, make_user, withdrawal):
    tenant = make_tenant()
    admin, user = make_user(role="org_admin", tenant=tenant), make_user(role="developer", tenant=tenant)
    browser, laptop = _signed_in(app, user), _signed_in(app, user)
    if withdrawal == "logout":
        assert browser.post("/logout").status_code == 302
    elif withdrawal == "tenant":
        _set(Tenant, tenant.id, active=False)
    else:
        change = {"role": {"role": "viewer"}, "deactivation": {"active": False}}[withdrawal]
        accounts.update_user(Actor.of(admin), tenant.id, user.id, change)
    for client in (browser, laptop):
        assert client.get("/").status_code == 302
        assert client.get("/api/v1/scripts").status_code == 401


def test_a_session_ends_after_its_absolute_lifetime(app, db_session, make_tenant, make_user):
    client = _signed_in(app, make_user(role="viewer", tenant=make_tenant()))
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] -= app.config["JSR_SESSION_HOURS"] * 3600 + 1
    assert client.get("/").status_code == 302


def test_a_deactivated_tenant_can_neither_sign_in_nor_use_tokens(client, make_tenant, make_user):
    tenant = make_tenant()
    user = make_user(role="org_admin", tenant=tenant)
    secret, _ = accounts.create_token(Actor.system(), user.id, "t")
    _set(Tenant, tenant.id, active=False)
    assert client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 401
    assert _bearer(client, secret)("GET", "/scripts").status_code == 401


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(client, make_tenant, make_user, scheme):
    user = make_user(role="viewer", tenant=make_tenant())
    secret, _ = accounts.create_token(Actor.system(), user.id, "t")
    assert client.get("/api/v1/scripts", headers={"Authorization": f"{scheme} {secret}"}).status_code == 200
    refused = client.get("/api/v1/scripts", headers={"Authorization": "Basic dTpw"})
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_password_change_ends_every_session(app, db_session, make_tenant, make_user):
    user = make_user(role="developer", tenant=make_tenant())
    client = _signed_in(app, user)
    with system_scope():
        stored = db.session.get(type(user), user.id)
        stored.set_password("another-long-password")
        db.session.commit()
    assert client.get("/").status_code == 302
