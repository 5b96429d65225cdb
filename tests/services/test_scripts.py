"""Scripts service: validation, versions, rollback, lifecycle, audit."""

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Script, ScriptVersion
from portal.services import runtime as runtime_service
from portal.services import scripts
from portal.services.errors import NotFound, PermissionDenied, ServiceError, ValidationError
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from runtime import RuntimePool

SOURCE = "function main(input, ctx) {\n  return input;\n}\n"


def _admin(make_user, tenant):
    return Actor.of(make_user(role="org_admin", tenant=tenant))


def _count(model) -> int:
    with system_scope():
        return db.session.scalar(select(func.count()).select_from(model))


def _actions() -> list[str]:
    with system_scope():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.created_at)))


def test_create_writes_version_one_and_audit(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    script = scripts.create(actor, tenant.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    assert script.status == "draft" and script.current_version == 1
    assert [v.version for v in scripts.versions(actor, tenant.id, script.id)] == [1]
    with system_scope():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "script.create"))
    assert event.user_id == actor.user_id and event.target_id == script.id


def test_updates_write_sequential_versions_and_rollback_copies_old_source(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    script = scripts.create(actor, tenant.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    scripts.update(actor, tenant.id, script.id, {"source": SOURCE.replace("input;", "1;")})
    scripts.update(actor, tenant.id, script.id, {"source": SOURCE.replace("input;", "2;"),
                                                 "change_description": "return two"})
    assert script.current_version == 3
    rolled = scripts.rollback(actor, tenant.id, script.id, 1)
    assert rolled.current_version == 4 and rolled.source == SOURCE
    history = scripts.versions(actor, tenant.id, script.id)
    assert [v.version for v in history] == [4, 3, 2, 1]
    assert history[0].source == history[-1].source and history[1].change_description == "return two"
    actions = _actions()
    assert actions.count("script.update") == 2 and "script.rollback" in actions


def test_noop_update_writes_nothing(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    script = scripts.create(actor, tenant.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    scripts.update(actor, tenant.id, script.id, {"source": SOURCE})
    assert script.current_version == 1 and _count(ScriptVersion) == 1


def test_rollback_to_missing_version(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    script = scripts.create(actor, tenant.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    with pytest.raises(NotFound):
        scripts.rollback(actor, tenant.id, script.id, 9)


@pytest.mark.parametrize("data, field", [
    ({"source": "x" * (101 * 1024)}, "source"),
    ({"source": "function main( {"}, "source"),
    ({"type": "scheduled", "cron_expression": "61 * * * *"}, "cron_expression"),
    ({"type": "scheduled", "cron_expression": "* * * *"}, "cron_expression"),
    ({"type": "scheduled", "cron_expression": "*/5 * * * *", "timezone": "Mars/Olympus"}, "timezone"),
    ({"type": "http", "http_path": "bad path!", "http_methods": ["POST"]}, "http_path"),
    ({"type": "http", "http_path": "ok", "http_methods": ["FETCH"]}, "http_methods"),
    ({"type": "event", "event_patterns": []}, "event_patterns"),
    ({"type": "event", "event_patterns": ["Order Paid"]}, "event_patterns"),
    ({"type": "teleport"}, "type"),
    ({"name": ""}, "name"),
    ({"timeout_ms": 10 ** 9}, "timeout_ms"),
])
def test_bad_input_is_rejected_and_writes_nothing(db_session, make_tenant, make_user, data, field):
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    values = {"name": "Job", "type": "oneoff", "source": SOURCE, **data}
    before = (_count(Script), _count(ScriptVersion), _count(AuditEvent))
    with pytest.raises(ValidationError) as raised:
        scripts.create(actor, tenant.id, values)
    assert field in raised.value.errors
    assert (_count(Script), _count(ScriptVersion), _count(AuditEvent)) == before


def test_syntax_error_reports_line_and_column(db_session, make_tenant, make_user):
    tenant = make_tenant()
    with pytest.raises(ValidationError) as raised:
        scripts.create(_admin(make_user, tenant), tenant.id,
                       {"name": "Job", "type": "oneoff", "source": "function main() {\n  return 1 +;\n}"})
    assert "line 2" in raised.value.errors["source"]
    assert raised.value.details == {"source_line": 2, "source_column": 13}


def test_a_source_that_cannot_be_checked_is_refused_and_writes_nothing(app, db_session, make_tenant, make_user,
                                                                      monkeypatch):
    """No runner to parse it (the runtime is shutting down): the save is refused with a translated message."""
    closed = RuntimePool(runners=1)
    closed.close()
    monkeypatch.setitem(app.extensions, runtime_service.EXTENSION_KEY, closed)
    tenant = make_tenant()
    before = (_count(Script), _count(ScriptVersion))
    with pytest.raises(ValidationError) as raised:
        scripts.create(_admin(make_user, tenant), tenant.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    assert str(raised.value.errors["source"]) == "The script could not be checked right now; please try again."
    assert (_count(Script), _count(ScriptVersion)) == before


def test_names_and_paths_unique_per_tenant_not_across(db_session, make_tenant, make_user):
    first, second = make_tenant(), make_tenant()
    hook = {"name": "Hook", "type": "http", "source": "async function handler(r) { return {status: 200} }",
            "http_path": "orders/new", "http_methods": ["POST"]}
    scripts.create(_admin(make_user, first), first.id, hook)
    with pytest.raises(ValidationError) as raised:
        scripts.create(_admin(make_user, first), first.id, {**hook, "name": "Other"})
    assert "http_path" in raised.value.errors
    with pytest.raises(ValidationError) as raised:
        scripts.create(_admin(make_user, first), first.id, {**hook, "http_path": "x"})
    assert "name" in raised.value.errors
    assert scripts.create(_admin(make_user, second), second.id, hook).http_path == "orders/new"


def test_lifecycle_transitions(db_session, make_tenant, make_user):
    tenant = make_tenant()
    actor = _admin(make_user, tenant)
    script = scripts.create(actor, tenant.id, {"name": "Cron", "type": "scheduled", "source": SOURCE,
                                               "cron_expression": "*/5 * * * *", "timezone": "Asia/Tashkent"})
    scripts.set_status(actor, tenant.id, script.id, "active")
    assert script.next_run_at is not None
    scripts.set_status(actor, tenant.id, script.id, "paused")
    assert script.next_run_at is None
    scripts.set_status(actor, tenant.id, script.id, "archived")
    with pytest.raises(ServiceError):
        scripts.set_status(actor, tenant.id, script.id, "active")
    scripts.delete(actor, tenant.id, script.id)
    assert _count(Script) == 0 and _count(ScriptVersion) == 0
    assert "script.delete" in _actions()


def test_other_tenant_cannot_see_or_change(db_session, make_tenant, make_user):
    mine, theirs = make_tenant(), make_tenant()
    script = scripts.create(_admin(make_user, mine), mine.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    intruder = _admin(make_user, theirs)
    with pytest.raises(PermissionDenied):
        scripts.get(intruder, mine.id, script.id)
    with pytest.raises(NotFound):
        scripts.get(intruder, theirs.id, script.id)
    with pytest.raises(NotFound):
        scripts.update(intruder, theirs.id, script.id, {"source": SOURCE})
    assert scripts.list_scripts(intruder, theirs.id) == []
