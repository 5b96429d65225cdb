"""The admin, tenants and account pages (issue 12): every page for the roles that may see it and 403 for
the rest, CSRF on every POST, translated errors for bad input, one-time sign-in links, tokens shown once
and stopped at once, secrets never shown again, tenant settings, and a superadmin acting as a tenant."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import ApiToken, AuditEvent, Secret, Tenant, User
from portal.services import accounts
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from tests.conftest import DEFAULT_PASSWORD, sign_in

ADMIN_PAGES = ["/admin/users", "/admin/tokens", "/admin/secrets", "/admin/settings"]
SECRET_VALUE = "sk_live_very-secret-value-42"


def _audit(tenant_id, action):
    with system_scope():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                                AuditEvent.action == action)))


def _row(model, **where):
    with system_scope():
        return db.session.scalar(select(model).filter_by(**where).execution_options(populate_existing=True))


@pytest.fixture
def org(app, make_tenant, make_user):
    """(tenant, admin user, signed_in(role) -> client) for one tenant."""
    tenant = make_tenant(name="Acme")
    admin = make_user(role="org_admin", tenant=tenant, name="Ada Admin")

    def signed_in(role="org_admin"):
        return sign_in(app, admin if role == "org_admin" else make_user(role=role, tenant=tenant))

    return tenant, admin, signed_in


# -- pages and permissions ------------------------------------------------------------------
def test_an_org_admin_sees_admin_and_account_but_not_tenants(org):
    _, _, signed_in = org
    client = signed_in()
    home = client.get("/").text
    assert 'href="/admin/users"' in home and 'href="/account"' in home and 'href="/tenants"' not in home
    for url in [*ADMIN_PAGES, "/account"]:
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert "Sign out" in answer.text
    assert client.get("/admin").headers["Location"].endswith("/admin/users")
    assert client.get("/tenants").status_code == 403


@pytest.mark.parametrize("role", ["developer", "viewer"])
def test_developers_and_viewers_see_no_admin_and_get_403(org, role):
    tenant, admin, signed_in = org
    client = signed_in(role)
    home = client.get("/").text
    assert "/admin/" not in home and 'href="/tenants"' not in home and 'href="/account"' in home
    for url in [*ADMIN_PAGES, "/tenants"]:
        assert client.get(url).status_code == 403, url
    posts = ["/admin/users", f"/admin/users/{admin.id}", f"/admin/users/{admin.id}/link", "/admin/tokens",
             "/admin/tokens/00000000-0000-0000-0000-000000000000/revoke", "/admin/secrets",
             "/admin/secrets/X/delete", "/admin/settings", "/tenants", f"/tenants/{tenant.id}/active"]
    for url in posts:
        assert client.post(url, data={"role": "org_admin", "active": "false"}).status_code == 403, url
    assert client.get("/account").status_code == 200
    assert _row(User, id=admin.id).active and _row(User, id=admin.id).role == "org_admin"


def test_only_superadmins_see_tenants_with_their_usage(app, org, make_user, make_script):
    tenant, _, _ = org
    make_script(tenant, name="One")
    client = sign_in(app, make_user(role="superadmin"))
    assert 'href="/tenants"' in client.get("/").text
    page = client.get("/tenants")
    assert page.status_code == 200
    row = re.search(rf'<tr id="tenant-{tenant.slug}">(.*?)</tr>', page.text, re.S).group(1)
    assert "Acme" in row and re.findall(r"<td>(\d+)</td>", row)[:2] == ["1", "0"]
    assert client.get("/admin/users").headers["Location"].endswith("/")  # no tenant chosen yet


def test_pages_need_a_sign_in(client):
    for url in [*ADMIN_PAGES, "/tenants", "/account"]:
        assert client.get(url).status_code == 302 and "/login" in client.get(url).headers["Location"]


def test_every_post_of_these_pages_needs_the_csrf_token(app, org, make_user):
    """With CSRF on, each POST route of the admin, tenants and account pages (and sign-in links and the
    tenant choice) answers 400 without the token and changes nothing."""
    tenant, admin, signed_in = org
    routes = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods and
              (rule.endpoint.split(".")[0] in ("admin", "tenants", "account")
               or rule.endpoint in ("auth.signin_link", "auth.choose_tenant"))]
    assert len(routes) >= 12
    values = {"user_id": admin.id, "token_id": admin.id, "name": "X", "tenant_id": tenant.id, "secret": "s"}
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = _signed_in_with_csrf(app, admin)
        for rule in routes:
            url = rule.build(values, append_unknown=False)[1]
            answer = client.post(url, data={"email": "csrf@example.test", "role": "viewer", "active": "false"})
            assert answer.status_code == 400, url
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _row(User, email="csrf@example.test") is None and _row(User, id=admin.id).active


def _signed_in_with_csrf(app, user):
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"email": user.email, "password": DEFAULT_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    return client


# -- users ----------------------------------------------------------------------------------
def test_invite_with_an_initial_password(app, org):
    tenant, _, signed_in = org
    client = signed_in()
    answer = client.post("/admin/users", data={"email": "pw@example.test", "name": "Pat", "role": "developer",
                                               "mode": "password", "password": "initial-pass"})
    assert answer.status_code == 302
    assert "pw@example.test" in client.get("/admin/users").text
    assert sign_in(app, _row(User, email="pw@example.test"), "initial-pass")
    assert [e.summary for e in _audit(tenant.id, "user.create")] == ["created developer pw@example.test"]


def test_invite_with_a_one_time_link_that_works_once(app, org):
    tenant, _, signed_in = org
    client = signed_in()
    answer = client.post("/admin/users", data={"email": "link@example.test", "role": "viewer", "mode": "link"})
    assert answer.status_code == 200
    link = re.search(r'value="(http://localhost/welcome/[^"]+)"', answer.text).group(1)
    path = link.removeprefix("http://localhost")
    assert link not in client.get("/admin/users").text  # shown once
    assert "Invited" in client.get("/admin/users").text

    invited = app.test_client()
    page = invited.get(path)
    assert page.status_code == 200 and "link@example.test" in page.text
    differ = invited.post(path, data={"password": "chosen-pass-1", "confirm_password": "other-pass-1"})
    assert differ.status_code == 422 and "The two passwords differ." in differ.text
    weak = invited.post(path, data={"password": "short", "confirm_password": "short"})
    assert weak.status_code == 422 and "A password has 8 to 1024 characters." in weak.text
    done = invited.post(path, data={"password": "chosen-pass-1", "confirm_password": "chosen-pass-1"})
    assert done.status_code == 302
    assert "link@example.test" in invited.get("/").text  # signed in
    again = app.test_client().get(path)
    assert again.status_code == 404 and "Ask your administrator for a new one." in again.text
    assert app.test_client().post(path, data={"password": "x" * 10, "confirm_password": "x" * 10}).status_code == 404
    assert sign_in(app, _row(User, email="link@example.test"), "chosen-pass-1")


def test_an_expired_link_is_refused_in_the_users_language(app, org):
    tenant, admin, _ = org
    user, secret = accounts.invite(Actor.of(admin), tenant.id, "old@example.test", "viewer")
    with system_scope():
        db.session.execute(update(User).where(User.id == user.id)
                           .values(signin_token_expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        db.session.commit()
    answer = app.test_client().get(f"/welcome/{secret}?lang=ru")
    assert answer.status_code == 404 and "Эта ссылка для входа недействительна" in answer.text


def test_bad_invitations_get_translated_errors(org):
    _, admin, signed_in = org
    client = signed_in()
    duplicate = client.post("/admin/users", data={"email": admin.email.upper(), "role": "viewer", "mode": "link"})
    assert duplicate.status_code == 409 and "A user with this e-mail already exists." in duplicate.text
    weak = client.post("/admin/users", data={"email": "w@example.test", "role": "viewer", "mode": "password",
                                             "password": "short"})
    assert weak.status_code == 422 and "A password has 8 to 1024 characters." in weak.text
    assert 'value="w@example.test"' in weak.text  # what was typed is kept
    bad = client.post("/admin/users?lang=ru", data={"email": "nope", "role": "superadmin", "mode": "link"})
    assert bad.status_code == 422 and "Введите корректный адрес электронной почты." in bad.text
    assert _row(User, email="w@example.test") is None


def test_change_role_deactivate_reactivate_and_unlock(app, org, make_user):
    tenant, admin, signed_in = org
    member = make_user(role="viewer", tenant=tenant)
    member_client = sign_in(app, member)
    client = signed_in()
    assert client.post(f"/admin/users/{member.id}", data={"role": "developer"}).status_code == 302
    assert _row(User, id=member.id).role == "developer"
    assert member_client.get("/").status_code == 302  # a role change ends the member's sessions
    assert client.post(f"/admin/users/{member.id}", data={"active": "false"}).status_code == 302
    assert not _row(User, id=member.id).active
    assert client.post(f"/admin/users/{member.id}", data={"active": "true"}).status_code == 302
    with system_scope():
        db.session.execute(update(User).where(User.id == member.id)
                           .values(failed_logins=9, locked_until=datetime.now(UTC) + timedelta(minutes=10)))
        db.session.commit()
    assert "Unlock" in client.get("/admin/users").text
    assert client.post(f"/admin/users/{member.id}", data={"unlock": "1"}).status_code == 302
    unlocked = _row(User, id=member.id)
    assert unlocked.active and unlocked.locked_until is None and unlocked.failed_logins == 0
    assert [e.summary for e in _audit(tenant.id, "user.update")] == [
        "role: 'viewer' → 'developer'", "active: True → False", "active: False → True", "unlocked"]
    own = client.post(f"/admin/users/{admin.id}", data={"role": "viewer"})
    assert own.status_code == 409 and "You cannot change your own role or deactivate yourself." in own.text
    unknown = client.post(f"/admin/users/{member.id}", data={"role": "king"})
    assert unknown.status_code == 422 and "Unknown role." in unknown.text
    odd = client.post(f"/admin/users/{member.id}?lang=ru", data={"active": "maybe"})
    assert odd.status_code == 422 and "Должно быть true или false." in odd.text
    assert _row(User, id=member.id).active


def test_users_of_another_tenant_cannot_be_touched(org, make_tenant, make_user):
    _, _, signed_in = org
    stranger = make_user(role="viewer", tenant=make_tenant())
    client = signed_in()
    assert client.post(f"/admin/users/{stranger.id}", data={"active": "false"}).status_code == 404
    assert client.post(f"/admin/users/{stranger.id}/link").status_code == 404
    assert client.post("/admin/users/not-an-id", data={"active": "false"}).status_code == 404
    assert _row(User, id=stranger.id).active


# -- tokens ---------------------------------------------------------------------------------
def test_a_token_is_shown_once_works_and_stops_at_once_when_revoked(app, org):
    tenant, admin, signed_in = org
    client = signed_in()
    created = client.post("/admin/tokens", data={"name": "ci", "user_id": admin.id, "role": "developer",
                                                 "expires_in_days": "30"})
    assert created.status_code == 200
    secret = re.search(r'value="(jsr_[^"]+)"', created.text).group(1)
    listing = client.get("/admin/tokens").text
    assert secret not in listing and secret[:8] in listing and "Never" in listing  # never used yet
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/scripts", headers=bearer).status_code == 200
    token = _row(ApiToken, name="ci")
    assert token.last_used_at is not None and token.role == "developer"
    assert "Never" not in re.search(rf'<tr id="token-{token.id}">(.*?)</tr>', client.get("/admin/tokens").text,
                                    re.S).group(1).split("</td>")[5]
    assert client.post(f"/admin/tokens/{token.id}/revoke").status_code == 302
    assert api.get("/api/v1/scripts", headers=bearer).status_code == 401  # no cache keeps it alive
    assert "Revoked" in client.get("/admin/tokens").text
    assert [e.action for e in _audit(tenant.id, "token.revoke")] == ["token.revoke"]


def test_bad_tokens_get_translated_errors(org, make_user):
    tenant, admin, signed_in = org
    viewer = make_user(role="viewer", tenant=tenant)
    client = signed_in()
    above = client.post("/admin/tokens", data={"name": "t", "user_id": viewer.id, "role": "org_admin"})
    assert above.status_code == 422 and "A token cannot have more rights than its user." in above.text
    days = client.post("/admin/tokens?lang=uz", data={"name": "t", "user_id": admin.id, "expires_in_days": "soon"})
    assert days.status_code == 422 and "butun son" in days.text
    nobody = client.post("/admin/tokens", data={"name": "t", "user_id": "x"})
    assert nobody.status_code == 404
    assert client.post("/admin/tokens/not-an-id/revoke").status_code == 404
    assert _row(ApiToken, name="t") is None


# -- secrets --------------------------------------------------------------------------------
def test_a_secret_is_never_shown_again_and_lists_the_scripts_that_read_it(org, make_script):
    tenant, _, signed_in = org
    make_script(tenant, name="Charger", source="async function main(i, ctx) { return ctx.secrets.get('STRIPE_KEY') }")
    client = signed_in()
    saved = client.post("/admin/secrets", data={"name": "STRIPE_KEY", "value": SECRET_VALUE})
    assert saved.status_code == 302
    page = client.get("/admin/secrets").text
    assert SECRET_VALUE not in page and "STRIPE_KEY" in page
    assert "Charger" in re.search(r'<tr id="secret-STRIPE_KEY">(.*?)</tr>', page, re.S).group(1)
    assert client.post("/admin/secrets", data={"name": "STRIPE_KEY", "value": "rotated-value"}).status_code == 302
    with system_scope():
        stored = db.session.scalar(select(Secret).where(Secret.tenant_id == tenant.id))
    assert stored.get_value("test-secrets-key") == "rotated-value"
    assert [e.action for e in _audit(tenant.id, "secret.create") + _audit(tenant.id, "secret.update")] == [
        "secret.create", "secret.update"]
    with system_scope():
        trail = str([(e.summary, e.details) for e in db.session.scalars(select(AuditEvent))])
    assert SECRET_VALUE not in trail and "rotated-value" not in trail
    assert client.post("/admin/secrets/STRIPE_KEY/delete").status_code == 302
    page = client.get("/admin/secrets").text
    assert "No secrets yet." in page and "Scripts read secrets that do not exist: STRIPE_KEY." in page
    assert client.post("/admin/secrets/STRIPE_KEY/delete").status_code == 404


def test_bad_secret_names_are_refused_without_echoing_the_value(org):
    _, _, signed_in = org
    client = signed_in()
    for name in ["1starts-with-digit", "has space", "", "x" * 101]:
        answer = client.post("/admin/secrets", data={"name": name, "value": SECRET_VALUE})
        assert answer.status_code == 422, name
        assert "A secret name is 1 to 100 letters" in answer.text and SECRET_VALUE not in answer.text
    russian = client.post("/admin/secrets?lang=ru", data={"name": "bad name", "value": "v"})
    assert russian.status_code == 422 and "Имя секрета" in russian.text
    nul = client.post("/admin/secrets", data={"name": "OK", "value": "a\x00b"})
    assert nul.status_code == 422
    assert client.post("/admin/secrets/bad name/delete").status_code == 422


# -- tenant settings ------------------------------------------------------------------------
def _settings(**changes):
    form = {"max_concurrency": "5", "max_timeout_ms": "30000", "max_memory_mb": "64", "max_host_calls": "100",
            "max_http_per_minute": "", "retention_days": "", "timezone": "UTC", "language": ""}
    form.update(changes)
    return form


def test_settings_are_saved_audited_and_become_the_members_defaults(app, org, make_user):
    tenant, _, signed_in = org
    client = signed_in()
    assert client.post("/admin/settings", data=_settings(max_concurrency="8", max_http_per_minute="30",
                                                         retention_days="7", timezone="Asia/Tashkent",
                                                         language="ru")).status_code == 302
    row = _row(Tenant, id=tenant.id)
    assert (row.max_concurrency, row.max_http_per_minute, row.retention_days, row.timezone, row.language) == (
        8, 30, 7, "Asia/Tashkent", "ru")
    assert len(_audit(tenant.id, "tenant.settings")) == 1
    page = client.get("/admin/settings").text
    assert 'name="max_http_per_minute" min="1" max="6000" value="30"' in page
    # A member who chose nothing gets the tenant's language and time zone.
    member = sign_in(app, make_user(role="viewer", tenant=tenant))
    account = member.get("/account").text
    assert 'lang="ru"' in account and "<option selected>Asia/Tashkent</option>" in account
    assert client.post("/admin/settings", data=_settings()).status_code == 302
    row = _row(Tenant, id=tenant.id)
    assert (row.max_http_per_minute, row.retention_days, row.language) == (None, None, None)


def test_limits_over_the_maxima_and_a_bad_time_zone_are_refused_in_the_users_language(org):
    tenant, _, signed_in = org
    client = signed_in()
    over = client.post("/admin/settings", data=_settings(max_concurrency="51", max_memory_mb="lots",
                                                         timezone="Mars/Base"))
    assert over.status_code == 422
    assert "Must be a whole number from 1 to 50." in over.text and "Unknown time zone." in over.text
    assert 'value="lots"' in over.text  # what was typed is shown again beside its error
    russian = client.post("/admin/settings?lang=ru", data=_settings(retention_days="99999"))
    assert russian.status_code == 422 and "Должно быть целым числом от 1 до 3650." in russian.text
    assert _row(Tenant, id=tenant.id).max_concurrency == 5


# -- account --------------------------------------------------------------------------------
def test_account_changes_language_time_zone_and_password(app, org, make_user):
    tenant, _, _ = org
    user = make_user(role="viewer", tenant=tenant)
    client = sign_in(app, user)
    assert client.post("/account/preferences", data={"language": "uz", "timezone": "Asia/Tashkent"}).status_code == 302
    stored = _row(User, id=user.id)
    assert (stored.language, stored.timezone) == ("uz", "Asia/Tashkent")
    bad = client.post("/account/preferences", data={"language": "uz", "timezone": "Mars/Base"})
    assert bad.status_code == 422 and "Noma&#39;lum vaqt mintaqasi." in bad.text
    wrong = client.post("/account/password?lang=en", data={"current_password": "nope", "new_password": "new-pass-123",
                                                          "confirm_password": "new-pass-123"})
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    weak = client.post("/account/password?lang=en", data={"current_password": DEFAULT_PASSWORD,
                                                          "new_password": "short", "confirm_password": "short"})
    assert weak.status_code == 422 and "A password has 8 to 1024 characters." in weak.text
    differ = client.post("/account/password?lang=en", data={"current_password": DEFAULT_PASSWORD,
                                                            "new_password": "new-pass-123", "confirm_password": "x"})
    assert differ.status_code == 422 and "The two new passwords differ." in differ.text
    other_session = sign_in(app, user)
    done = client.post("/account/password", data={"current_password": DEFAULT_PASSWORD,
                                                   "new_password": "new-pass-123", "confirm_password": "new-pass-123"})
    assert done.status_code == 302
    assert client.get("/account").status_code == 200  # this session goes on
    assert other_session.get("/account").status_code == 302  # every other one ended
    assert sign_in(app, user, "new-pass-123")
    assert _audit(tenant.id, "user.password")


def test_the_old_preferences_address_is_gone(org):
    _, _, signed_in = org
    assert signed_in().get("/preferences").status_code == 404


# -- superadmin -----------------------------------------------------------------------------
def test_a_superadmin_creates_and_deactivates_tenants(app, make_tenant, make_user):
    root = make_user(role="superadmin")
    client = sign_in(app, root)
    assert client.post("/tenants", data={"slug": "globex", "name": "Globex"}).status_code == 302
    tenant = _row(Tenant, slug="globex")
    assert tenant.name == "Globex" and "Globex" in client.get("/tenants").text
    duplicate = client.post("/tenants", data={"slug": "globex", "name": "Again"})
    assert duplicate.status_code == 409 and "A tenant with this slug already exists." in duplicate.text
    bad = client.post("/tenants?lang=ru", data={"slug": "Not A Slug!", "name": "x"})
    assert bad.status_code == 422 and "Slug состоит из строчных букв" in bad.text
    member = make_user(role="viewer", tenant=tenant)
    member_client = sign_in(app, member)
    assert client.post(f"/tenants/{tenant.id}/active", data={"active": "false"}).status_code == 302
    assert not _row(Tenant, id=tenant.id).active
    assert member_client.get("/").status_code == 302  # its members are signed out
    assert client.post(f"/tenants/{tenant.id}/active", data={"active": "true"}).status_code == 302
    assert _row(Tenant, id=tenant.id).active
    assert [e.action for e in _audit(tenant.id, "tenant.deactivate") + _audit(tenant.id, "tenant.activate")] == [
        "tenant.deactivate", "tenant.activate"]
    assert client.post("/tenants/not-an-id/active", data={"active": "false"}).status_code == 404
    for odd in ({}, {"active": "yes"}):
        refused = client.post(f"/tenants/{tenant.id}/active", data=odd)
        assert refused.status_code == 422 and "Must be true or false." in refused.text
    assert _row(Tenant, id=tenant.id).active


def test_a_superadmin_acting_as_a_tenant_sees_a_banner_on_every_page_and_it_is_audited(app, org, make_user):
    tenant, _, _ = org
    root = make_user(role="superadmin")
    client = sign_in(app, root)
    assert "acting-banner" not in client.get("/tenants").text
    assert client.post("/tenant", data={"tenant": tenant.slug}).status_code == 302
    for url in ["/", "/scripts", "/executions", *ADMIN_PAGES, "/account", "/tenants"]:
        page = client.get(url)
        assert page.status_code == 200, url
        banner = re.search(r'<div class="acting-banner".*?</div>', page.text, re.S).group(0)
        assert "Acme" in banner and tenant.slug in banner and "Stop acting" in banner
    assert [e.user_id for e in _audit(tenant.id, "tenant.act_as")] == [root.id]
    stop = client.post("/tenant", data={})
    assert stop.status_code == 302 and stop.headers["Location"].endswith("/tenants")
    assert "acting-banner" not in client.get("/tenants").text
    assert len(_audit(tenant.id, "tenant.act_as_end")) == 1
    client.post("/tenant", data={"tenant": tenant.slug})
    assert client.post("/tenant", data={"tenant": "no-such-tenant"}).status_code == 404
    assert "acting-banner" in client.get("/").text  # an unknown choice changes nothing
    assert len(_audit(tenant.id, "tenant.act_as_end")) == 1


def test_members_never_get_the_banner_nor_act_as_another_tenant(org, make_tenant):
    _, _, signed_in = org
    other = make_tenant()
    client = signed_in()
    assert client.post("/tenant", data={"tenant": other.slug}).status_code == 302
    page = client.get("/").text
    assert "acting-banner" not in page and "Acme" in page
    assert _audit(other.id, "tenant.act_as") == []
