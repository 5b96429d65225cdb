"""Model invariants on every backend: uniqueness per tenant, immutability, secrets, credentials."""

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.fernet import InvalidToken
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal import tenancy
from portal.extensions import db
from portal.models import (
    ApiToken,
    AuditEvent,
    Execution,
    ImmutableError,
    Script,
    ScriptVersion,
    Secret,
    Tenant,
    User,
)
from tests.conftest import backend

KEY = "test-secrets-key"


@pytest.fixture(autouse=True)
def system(db_session):
    """Model tests look below the tenant layer, so they work in system scope."""
    with tenancy.system_scope():
        yield


def _flush_fails(obj) -> None:
    db.session.add(obj)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_script_name_unique_per_tenant_not_across(make_tenant, make_script):
    first, second = make_tenant(), make_tenant()
    make_script(first, name="Job")
    make_script(second, name="Job")  # another tenant may reuse the name
    _flush_fails(Script(tenant_id=first.id, name="Job", type="oneoff", source="1"))


def test_http_path_unique_per_tenant_and_null_paths_do_not_collide(make_tenant, make_script):
    first, second = make_tenant(), make_tenant()
    make_script(first, name="a", type="http", http_path="orders", http_methods=["POST"])
    make_script(second, name="a", type="http", http_path="orders", http_methods=["POST"])
    make_script(first, name="b")
    make_script(first, name="c")  # two scripts without a path
    _flush_fails(Script(tenant_id=first.id, name="d", type="http", source="1", http_path="orders",
                        http_methods=["GET"]))


def test_unknown_enum_values_are_refused(make_tenant):
    _flush_fails(Script(tenant_id=make_tenant().id, name="x", type="cron", source="1"))


def test_script_defaults_and_json_round_trip(make_tenant, make_script):
    script = make_script(make_tenant(), type="http", http_path="p", http_methods=["GET", "POST"])
    db.session.expire_all()
    assert script.http_methods == ["GET", "POST"] and script.event_patterns == []
    assert script.status == "draft" and script.timezone == "UTC" and script.http_auth == "none"
    assert script.current_version == 1 and script.description == ""


def test_timestamps_are_aware_utc(make_tenant):
    tenant = make_tenant()
    db.session.expire_all()
    assert tenant.created_at.tzinfo is not None and tenant.created_at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - tenant.created_at).total_seconds()) < 60


def test_tenant_slug_is_validated():
    with pytest.raises(ValueError):
        Tenant(slug="Not A Slug", name="x")
    with pytest.raises(ValueError):
        Tenant(slug="-edge", name="x")


def test_script_versions_are_immutable(make_tenant, make_script):
    script = make_script(make_tenant())
    version = db.session.scalar(select(ScriptVersion).where(ScriptVersion.script_id == script.id))
    version.source = "changed"
    with pytest.raises(ImmutableError):
        db.session.flush()
    db.session.rollback()
    version = db.session.scalar(select(ScriptVersion).where(ScriptVersion.script_id == script.id))
    assert version.source == script.source


def test_script_version_numbers_are_unique_per_script(make_tenant, make_script):
    script = make_script(make_tenant())
    _flush_fails(ScriptVersion(script_id=script.id, tenant_id=script.tenant_id, version=1, source="again"))


def test_audit_events_are_append_only(make_tenant):
    tenant = make_tenant()
    event = AuditEvent(tenant_id=tenant.id, action="script.create", target_type="script", target_id="s1",
                       summary="created", details={"a": 1})
    db.session.add(event)
    db.session.commit()
    event.summary = "rewritten"
    with pytest.raises(ImmutableError):
        db.session.flush()
    db.session.rollback()
    db.session.delete(event)
    with pytest.raises(ImmutableError):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(AuditEvent, event.id).summary == "created"


def test_secret_is_encrypted_at_rest_and_round_trips(make_tenant):
    secret = Secret(tenant_id=make_tenant().id, name="stripe")
    secret.set_value("sk_live_very-secret-value", KEY)
    db.session.add(secret)
    db.session.commit()
    stored = db.session.scalar(text("SELECT ciphertext FROM secrets WHERE id = :id"), {"id": secret.id})
    assert b"very-secret" not in bytes(stored) and b"sk_live" not in bytes(stored)
    db.session.expire_all()
    assert secret.get_value(KEY) == "sk_live_very-secret-value"
    with pytest.raises(InvalidToken):
        secret.get_value("another-key")
    assert "very-secret" not in repr(secret)


def test_password_is_hashed_with_argon2(make_user):
    user = make_user(role="viewer", password="s3cret-Passw0rd", email="  Mixed.Case@Example.TEST ")
    assert user.email == "mixed.case@example.test"
    assert user.password_hash.startswith("$argon2id$") and "s3cret" not in user.password_hash
    assert user.check_password("s3cret-Passw0rd") and not user.check_password("wrong")
    user.password_hash = "not-a-hash"
    assert not user.check_password("s3cret-Passw0rd")


def test_email_is_unique_whatever_its_case(make_user):
    make_user(email="someone@example.test")
    duplicate = User(email="SOMEONE@example.test", role="superadmin", name="x")
    duplicate.set_password("whatever-password")
    _flush_fails(duplicate)


def test_only_superadmins_have_no_tenant(make_user):
    superadmin = make_user(role="superadmin")
    assert superadmin.tenant_id is None and superadmin.is_active and superadmin.get_id() == f"{superadmin.id}:1"
    orphan = User(email="orphan@example.test", role="developer", name="x")
    orphan.set_password("whatever-password")
    _flush_fails(orphan)


def test_inactive_user_is_not_active_for_flask_login(make_user):
    assert not make_user(active=False).is_active


def test_api_token_is_stored_hashed(make_user):
    user = make_user(role="developer")
    secret, token = ApiToken.generate(tenant_id=user.tenant_id, user_id=user.id, name="ci", role="viewer")
    db.session.add(token)
    db.session.commit()
    assert secret.startswith("jsr_") and len(secret) > 40 and token.prefix == secret[:8]
    row = db.session.execute(text("SELECT * FROM api_tokens WHERE id = :i"), {"i": token.id}).mappings().one()
    assert secret not in {str(value) for value in row.values()}
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    found = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == ApiToken.hash_secret(secret)))
    assert found.id == token.id and found.matches(secret) and not found.matches(secret + "x")


def test_execution_json_nulls_are_sql_nulls(make_tenant, make_script):
    script = make_script(make_tenant())
    execution = Execution(tenant_id=script.tenant_id, script_id=script.id, trigger="manual", input=None,
                          output={"ok": True}, error=None)
    db.session.add(execution)
    db.session.commit()
    row = db.session.execute(text("SELECT input IS NULL, error IS NULL, status, logs FROM executions")).one()
    assert row[0] and row[1] and row[2] == "pending"
    db.session.expire_all()
    assert execution.logs == [] and execution.output == {"ok": True} and execution.attempt == 1


def test_hook_secrets_are_stored_encrypted(app, db_session, make_tenant, make_script):
    script = make_script(make_tenant(), type="http", http_path="hook", http_methods=["POST"], http_auth="hmac")
    script.set_http_secret("s3cret-" + "x" * 200, app.config["JSR_SECRETS_KEY"])
    with tenancy.system_scope():
        db.session.merge(script)
        db.session.commit()
        stored = db.session.scalar(text("SELECT http_secret FROM scripts WHERE id = :id"), {"id": script.id})
    assert "s3cret" not in stored
    assert script.get_http_secret(app.config["JSR_SECRETS_KEY"]) == "s3cret-" + "x" * 200
    with pytest.raises(InvalidToken):
        script.get_http_secret("another key")


def test_sqlite_writes_through_a_write_ahead_log(app, db_session):
    if backend(app) != "sqlite":
        pytest.skip("a SQLite setting")
    assert db_session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db_session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    assert db_session.execute(text("PRAGMA foreign_keys")).scalar() == 1
