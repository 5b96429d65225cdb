"""The services behind the admin pages (issue 12): one-time sign-in links, password changes, tenant
settings within the platform's maxima and the runtime honouring them, tenant usage, the secrets a
script reads — on SQLite and PostgreSQL."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import AuditEvent, Execution, Tenant, User
from portal.services import accounts, executions, hostapi, scripts, secrets, tenants
from portal.services.errors import NotFound, PermissionDenied, ValidationError
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from runtime.references import secret_names
from tests.conftest import DEFAULT_PASSWORD


def _audit(tenant_id, action):
    with system_scope():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id,
                                                                AuditEvent.action == action)))


def _admin(make_user, tenant):
    return Actor.of(make_user(role="org_admin", tenant=tenant))


# -- one-time sign-in links -------------------------------------------------------------------
def test_an_invitation_link_is_stored_hashed_works_once_and_sets_the_password(db_session, make_tenant, make_user):
    tenant = make_tenant()
    user, secret = accounts.invite(_admin(make_user, tenant), tenant.id, "New@Example.test", "developer")
    with system_scope():
        stored = db.session.get(User, user.id)
        assert stored.signin_token_hash and secret not in stored.signin_token_hash
        assert stored.signin_token_expires_at > datetime.now(UTC) + timedelta(hours=71)
    assert accounts.authenticate("new@example.test", "chosen-password") is None  # no usable password yet
    assert accounts.signin_link_user(secret).id == user.id
    with pytest.raises(ValidationError) as weak:
        accounts.redeem_signin_link(secret, "short")
    assert "password" in weak.value.errors
    assert accounts.redeem_signin_link(secret, "chosen-password").id == user.id
    with pytest.raises(NotFound):
        accounts.redeem_signin_link(secret, "another-password")  # used once, never again
    with pytest.raises(NotFound):
        accounts.signin_link_user(secret)
    assert accounts.authenticate("new@example.test", "chosen-password").id == user.id
    assert len(_audit(tenant.id, "auth.signin_link_used")) == 1


def test_an_expired_or_replaced_link_names_nobody(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    user, first = accounts.invite(admin, tenant.id, "late@example.test", "viewer")
    _, second = accounts.issue_signin_link(admin, tenant.id, user.id)
    with pytest.raises(NotFound):
        accounts.signin_link_user(first)  # a new link replaces the old one
    with system_scope():
        db.session.execute(update(User).where(User.id == user.id)
                           .values(signin_token_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db.session.commit()
    with pytest.raises(NotFound):
        accounts.redeem_signin_link(second, "chosen-password")
    for nonsense in ("", "x" * 500, None, 42):
        with pytest.raises(NotFound):
            accounts.signin_link_user(nonsense)


def test_a_link_is_only_issued_by_an_admin_of_the_members_tenant(db_session, make_tenant, make_user):
    tenant, other = make_tenant(), make_tenant()
    member = make_user(role="viewer", tenant=tenant)
    with pytest.raises(PermissionDenied):
        accounts.issue_signin_link(Actor.of(make_user(role="developer", tenant=tenant)), tenant.id, member.id)
    with pytest.raises(NotFound):
        accounts.issue_signin_link(_admin(make_user, other), other.id, member.id)


def test_an_invitation_with_a_password_gives_no_link(db_session, make_tenant, make_user):
    tenant = make_tenant()
    user, link = accounts.invite(_admin(make_user, tenant), tenant.id, "pw@example.test", "viewer",
                                 password="initial-password")
    assert link is None and accounts.authenticate("pw@example.test", "initial-password").id == user.id


# -- own password ---------------------------------------------------------------------------
def test_changing_the_password_needs_the_current_one_and_the_policy(db_session, make_user):
    user = make_user(role="viewer")
    actor, version = Actor.of(user), user.session_version
    with pytest.raises(ValidationError) as wrong:
        accounts.change_password(actor, "not-it", "new-password-1")
    assert set(wrong.value.errors) == {"current_password"}
    with pytest.raises(ValidationError) as weak:
        accounts.change_password(actor, DEFAULT_PASSWORD, "1234567")
    assert set(weak.value.errors) == {"new_password"}
    changed = accounts.change_password(actor, DEFAULT_PASSWORD, "new-password-1")
    assert changed.session_version == version + 1  # every other session ends
    assert accounts.authenticate(user.email, DEFAULT_PASSWORD) is None
    assert accounts.authenticate(user.email, "new-password-1") is not None


# -- tenant settings ------------------------------------------------------------------------
def test_settings_are_validated_against_the_platform_maxima_and_audited(app, db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    maxima = tenants.maxima()
    with pytest.raises(ValidationError) as refused:
        tenants.update_settings(admin, tenant.id, {
            "max_concurrency": maxima["max_concurrency"] + 1, "max_timeout_ms": 0, "max_memory_mb": "64",
            "max_host_calls": True, "max_http_per_minute": maxima["max_http_per_minute"] + 1,
            "retention_days": -1, "timezone": "Mars/Base", "language": "fr"})
    assert set(refused.value.errors) == set(tenants.SETTINGS)
    assert str(maxima["max_concurrency"]) in refused.value.errors["max_concurrency"]
    saved = tenants.update_settings(admin, tenant.id, {
        "max_concurrency": 7, "max_timeout_ms": maxima["max_timeout_ms"], "max_http_per_minute": 2,
        "retention_days": 3, "timezone": "Asia/Tashkent", "language": "uz"})
    assert (saved.max_concurrency, saved.max_http_per_minute, saved.retention_days, saved.timezone,
            saved.language) == (7, 2, 3, "Asia/Tashkent", "uz")
    [event] = _audit(tenant.id, "tenant.settings")
    assert event.details["changes"]["max_concurrency"] == {"before": 5, "after": 7}
    back = tenants.update_settings(admin, tenant.id, {"max_http_per_minute": None, "retention_days": None,
                                                      "language": None})
    assert (back.max_http_per_minute, back.retention_days, back.language) == (None, None, None)


def test_only_admins_of_the_tenant_change_its_settings(db_session, make_tenant, make_user):
    tenant, other = make_tenant(), make_tenant()
    for actor in (Actor.of(make_user(role="developer", tenant=tenant)), _admin(make_user, other)):
        with pytest.raises(PermissionDenied):
            tenants.update_settings(actor, tenant.id, {"max_concurrency": 2})
    assert tenants.update_settings(Actor.of(make_user(role="superadmin")), tenant.id,
                                   {"max_concurrency": 2}).max_concurrency == 2


def test_the_runtime_honours_the_tenants_outbound_http_rate(app, db_session, make_tenant, make_user):
    """One call a minute for this tenant: its second call in a run is refused by the rate, while a tenant
    on the platform's rate makes both (they fail only on the address, which is not public)."""
    limited, free = make_tenant(), make_tenant()
    tenants.update_settings(Actor.system(), limited.id, {"max_http_per_minute": 1})
    source = """async function main(input, ctx) {
      const names = [];
      for (let i = 0; i < 2; i++) {
        try { await ctx.http.get('http://127.0.0.1:9/'); names.push('ok'); } catch (e) { names.push(e.name); }
      }
      return names;
    }"""
    outputs = {}
    for tenant in (limited, free):
        actor = _admin(make_user, tenant)
        script = scripts.create(actor, tenant.id, {"name": "caller", "type": "oneoff", "source": source})
        outputs[tenant.id] = executions.run_now(actor, tenant.id, script.id).output
    assert outputs[limited.id][1] == "RateLimitExceeded" and outputs[limited.id][0] != "RateLimitExceeded"
    assert "RateLimitExceeded" not in outputs[free.id]


def test_a_lowered_time_limit_ends_the_tenants_runs_at_it(app, db_session, make_tenant, make_user):
    """The settings page's limits are the ones runs get: a script asking for 10 s is cut at the tenant's 300 ms."""
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    script = scripts.create(actor, tenant.id, {"name": "spin", "type": "oneoff", "timeout_ms": 10_000,
                                               "source": "function main() { while (true) {} }"})
    tenants.update_settings(actor, tenant.id, {"max_timeout_ms": 300})
    started = datetime.now(UTC)
    execution = executions.run_now(actor, tenant.id, script.id)
    assert execution.status == "timeout"
    assert datetime.now(UTC) - started < timedelta(seconds=5)


def test_outbound_rate_prefers_the_tenants_own_per_minute_rate():
    own = {"a": 1}
    admit = hostapi.outbound_rate("3 per minute", None, tenant_rate=own.get)
    assert [admit("a"), admit("a")] == [True, False]
    assert [admit("b") for _ in range(4)] == [True, True, True, False]


def test_cleanup_keeps_each_tenants_own_retention(app, db_session, make_tenant, make_user):
    short, default = make_tenant(retention_days=2), make_tenant()
    ids = {}
    for tenant in (short, default):
        actor = _admin(make_user, tenant)
        script = scripts.create(actor, tenant.id, {"name": "job", "type": "oneoff",
                                                   "source": "function main() { return 1 }"})
        ids[tenant.id] = executions.run_now(actor, tenant.id, script.id).id
    with system_scope():
        db.session.execute(update(Execution).where(Execution.id.in_(ids.values()))
                           .values(created_at=datetime.now(UTC) - timedelta(days=5)))
        db.session.commit()
    assert executions.cleanup() == 1  # 5 days: past the short tenant's 2, within the default 30
    with system_scope():
        left = set(db.session.scalars(select(Execution.id).where(Execution.id.in_(ids.values()))))
    assert left == {ids[default.id]}


# -- superadmin -----------------------------------------------------------------------------
def test_usage_counts_scripts_and_todays_runs_and_errors(app, db_session, make_tenant, make_user):
    busy, idle = make_tenant(name="Busy"), make_tenant(name="Idle")
    actor = _admin(make_user, busy)
    good = scripts.create(actor, busy.id, {"name": "good", "type": "oneoff", "source": "function main() { return 1 }"})
    bad = scripts.create(actor, busy.id, {"name": "bad", "type": "oneoff",
                                          "source": "function main() { throw new Error('x') }"})
    for script in (good, good, bad):
        executions.run_now(actor, busy.id, script.id)
    with pytest.raises(PermissionDenied):
        tenants.usage(actor, datetime.now(UTC) - timedelta(days=1))
    rows = {row.tenant.id: row for row in tenants.usage(Actor.of(make_user(role="superadmin")),
                                                        datetime.now(UTC) - timedelta(hours=1))}
    assert (rows[busy.id].scripts, rows[busy.id].executions, rows[busy.id].errors) == (2, 3, 1)
    assert (rows[idle.id].scripts, rows[idle.id].executions, rows[idle.id].errors) == (0, 0, 0)
    later = tenants.usage(Actor.system(), datetime.now(UTC) + timedelta(minutes=1))
    assert {row.tenant.id: row.executions for row in later}[busy.id] == 0


def test_deactivating_a_tenant_is_audited_and_stops_its_members(db_session, make_tenant, make_user):
    tenant = make_tenant()
    member = make_user(role="viewer", tenant=tenant)
    root = Actor.of(make_user(role="superadmin"))
    tenants.set_active(root, tenant.id, False)
    assert accounts.authenticate(member.email, DEFAULT_PASSWORD) is None
    assert [e.action for e in _audit(tenant.id, "tenant.deactivate")] == ["tenant.deactivate"]
    tenants.set_active(root, tenant.id, True)
    assert accounts.authenticate(member.email, DEFAULT_PASSWORD) is not None
    with pytest.raises(NotFound):
        tenants.set_active(root, str(uuid.uuid4()), False)
    with pytest.raises(PermissionDenied):
        tenants.set_active(Actor.of(member), tenant.id, False)


def test_acting_as_a_tenant_is_written_to_its_trail(db_session, make_tenant, make_user):
    tenant = make_tenant()
    root = Actor.of(make_user(role="superadmin"))
    with system_scope():
        row = db.session.get(Tenant, tenant.id)
    tenants.record_acting(root, row, started=True)
    tenants.record_acting(root, row, started=False)
    assert [e.user_id for e in _audit(tenant.id, "tenant.act_as")] == [root.user_id]
    assert len(_audit(tenant.id, "tenant.act_as_end")) == 1


# -- secrets read by scripts ----------------------------------------------------------------
def test_secret_names_come_from_literal_calls_only():
    source = """
    // ctx.secrets.get('IN_A_COMMENT')
    const text = "ctx.secrets.get('IN_A_STRING')";
    async function main(input, context) {
      const a = await context.secrets.get('API_KEY');
      const b = getCredential("LEGACY");
      const c = await ctx?.secrets?.get(`TEMPLATE`);
      const d = await ctx.secrets.get(input.name), e = await ctx.secrets.get(`X${a}`);
      return other.get('NOT_A_SECRET');
    }"""
    assert secret_names(source) == {"API_KEY", "LEGACY", "TEMPLATE"}
    assert secret_names("function main() { return 1 }") == frozenset()


def test_readers_list_the_scripts_of_the_tenant_that_read_each_secret(db_session, make_tenant, make_user,
                                                                      make_script):
    tenant, other = make_tenant(), make_tenant()
    make_script(tenant, name="Payer", source="async function main(i, ctx) { return ctx.secrets.get('STRIPE') }")
    make_script(tenant, name="Legacy", source="function transformEvent(e) { e.k = getCredential('STRIPE'); return e }")
    make_script(other, name="Elsewhere", source="async function main(i, ctx) { return ctx.secrets.get('STRIPE') }")
    found = secrets.readers(_admin(make_user, tenant), tenant.id)
    assert {name: sorted(s.name for s in found[name]) for name in found} == {"STRIPE": ["Legacy", "Payer"]}
    with pytest.raises(PermissionDenied):
        secrets.readers(Actor.of(make_user(role="developer", tenant=tenant)), tenant.id)
