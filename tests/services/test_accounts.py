"""Accounts: token rights, role changes, inactive users."""

import time

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import ApiToken, AuditEvent, Tenant, User
from portal.services import accounts
from portal.services.errors import PermissionDenied, ValidationError
from portal.services.rbac import Actor
from portal.tenancy import system_scope


def test_a_token_never_has_more_rights_than_its_user(db_session, make_tenant, make_user):
    developer = make_user(role="developer", tenant=make_tenant())
    with pytest.raises(ValidationError) as raised:
        accounts.create_token(Actor.of(developer), developer.id, "escalate", role="org_admin")
    assert "role" in raised.value.errors
    secret, token = accounts.create_token(Actor.of(developer), developer.id, "read-only", role="viewer")
    assert accounts.actor_for_token(secret).role == "viewer" and token.token_hash != secret
    other = make_user(role="developer", tenant=developer.tenant_id)
    with pytest.raises(PermissionDenied):
        accounts.create_token(Actor.of(developer), other.id, "someone else's")


def test_role_changes_are_admin_only_and_audited(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin, user = make_user(role="org_admin", tenant=tenant), make_user(role="viewer", tenant=tenant)
    with pytest.raises(PermissionDenied):
        accounts.update_user(Actor.of(make_user(role="developer", tenant=tenant)), tenant.id, user.id,
                             {"role": "developer"})
    with pytest.raises(ValidationError):
        accounts.update_user(Actor.of(admin), tenant.id, user.id, {"role": "superadmin"})
    assert accounts.update_user(Actor.of(admin), tenant.id, user.id, {"role": "developer"}).role == "developer"
    with system_scope():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event.summary == "role: 'viewer' → 'developer'" and event.user_id == admin.id


def test_inactive_users_can_neither_sign_in_nor_use_their_tokens(db_session, make_tenant, make_user):
    user = make_user(role="developer", tenant=make_tenant(), password="correct-horse")
    secret, _ = accounts.create_token(Actor.system(), user.id, "t")
    assert accounts.authenticate(user.email, "correct-horse") is not None
    with system_scope():
        db.session.get(type(user), user.id).active = False
        db.session.commit()
    assert accounts.authenticate(user.email, "correct-horse") is None
    assert accounts.actor_for_token(secret) is None


def test_token_use_is_recorded_at_most_once_a_minute(db_session, make_tenant, make_user):
    user = make_user(role="viewer", tenant=make_tenant())
    secret, token = accounts.create_token(Actor.system(), user.id, "t")
    accounts.actor_for_token(secret)
    with system_scope():
        first = db.session.get(ApiToken, token.id, populate_existing=True).last_used_at
    accounts.actor_for_token(secret)
    with system_scope():
        assert first is not None and db.session.get(ApiToken, token.id, populate_existing=True).last_used_at == first


@pytest.fixture
def short_token_cache(app):
    previous = app.config["JSR_TOKEN_CACHE_S"]
    app.config["JSR_TOKEN_CACHE_S"] = 0.5
    yield 0.5
    app.config["JSR_TOKEN_CACHE_S"] = previous


@pytest.mark.parametrize("change", [
    update(ApiToken).values(revoked_at=func.now()),
    update(User).values(active=False),
    update(Tenant).values(active=False),
])
def test_a_token_withdrawn_by_another_process_is_refused_within_the_cache_bound(app, db_session, make_tenant,
                                                                                 make_user, short_token_cache,
                                                                                 change):
    """Another process's change reaches no cache here: the token works until its cached entry expires."""
    user = make_user(role="developer", tenant=make_tenant())
    secret, _ = accounts.create_token(Actor.system(), user.id, "t")
    assert accounts.actor_for_token(secret) is not None
    with db.engine.begin() as connection:  # as another process would: no ORM event in this one
        connection.execute(change)
    assert accounts.actor_for_token(secret) is not None  # served from the cache, no database read
    time.sleep(short_token_cache + 0.1)
    assert accounts.actor_for_token(secret) is None


def test_a_token_revoked_in_this_process_is_refused_at_once(app, db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    secret, token = accounts.create_token(Actor.of(admin), admin.id, "t")
    assert accounts.actor_for_token(secret) is not None
    accounts.revoke_token(Actor.of(admin), tenant.id, token.id)
    assert accounts.actor_for_token(secret) is None


def test_a_cached_token_costs_no_database_statement(app, db_session, make_tenant, make_user):
    user = make_user(role="developer", tenant=make_tenant())
    secret, _ = accounts.create_token(Actor.system(), user.id, "t")
    first = accounts.actor_for_token(secret)
    statements = []

    def statement(*_):
        statements.append(True)

    sa_event.listen(db.engine, "before_cursor_execute", statement)
    try:
        assert accounts.actor_for_token(secret) == first
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", statement)
    assert statements == []
