"""Accounts: token rights, role changes, inactive users."""

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiToken, AuditEvent
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
