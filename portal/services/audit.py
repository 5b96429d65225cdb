"""The append-only audit trail: who changed what, when, with a diff summary."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.services import rbac
from portal.services.inputs import require_id, require_text
from portal.services.queries import in_period, older_than, page, where_given
from portal.services.rbac import Actor
from portal.services.scope import in_tenant


def record(actor: Actor, action: str, *, tenant_id: str | None, target_type: str, target_id: str | None,
           summary: str = "", details: dict[str, Any] | None = None) -> AuditEvent:
    """Add an audit event to the current transaction (committed with the change it describes)."""
    event = AuditEvent(tenant_id=tenant_id, user_id=actor.user_id, action=action, target_type=target_type,
                       target_id=target_id, summary=summary, details=details or {})
    db.session.add(event)
    return event


def diff_summary(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """'field: old → new' for changed fields; source changes are summarised by line counts."""
    parts, changes = [], {}
    for key in sorted(after):
        old, new = before.get(key), after[key]
        if old == new:
            continue
        if key == "source":
            old_lines, new_lines = len((old or "").splitlines()), len((new or "").splitlines())
            parts.append(f"source: {old_lines} → {new_lines} lines")
            changes[key] = {"lines_before": old_lines, "lines_after": new_lines}
        else:
            parts.append(f"{key}: {old!r} → {new!r}")
            changes[key] = {"before": old, "after": new}
    return "; ".join(parts), changes


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any
    lines: bool = False  # before and after are line counts (a source change, see diff_summary)


def field_changes(details: dict[str, Any] | None) -> list[FieldChange]:
    """An event's details as before → after per field: the changes diff_summary recorded first, then any
    other detail (a version, an execution id) as a value with no before."""
    details = details or {}
    found = []
    for field, change in (details.get("changes") or {}).items():
        if isinstance(change, dict) and "lines_before" in change:
            found.append(FieldChange(field, change["lines_before"], change.get("lines_after"), lines=True))
        elif isinstance(change, dict) and {"before", "after"} & change.keys():
            found.append(FieldChange(field, change.get("before"), change.get("after")))
        else:
            found.append(FieldChange(field, None, change))
    found.extend(FieldChange(key, None, value) for key, value in details.items() if key != "changes")
    return found


@in_tenant
def list_events(actor: Actor, tenant_id: str, *, user_id: str | None = None, action: str | None = None,
                target_type: str | None = None, target_id: str | None = None, since: datetime | None = None,
                until: datetime | None = None, before: str | None = None, limit: int = 50,
                offset: int = 0) -> list[AuditEvent]:
    """The tenant's trail, newest first (org admins and superadmins). `before` (an event id) pages by key:
    only events older than that one."""
    rbac.require(actor, rbac.AUDIT_READ, tenant_id)
    require_id("user_id", user_id)
    require_id("target_id", target_id)
    require_text("action", action, 64)
    require_text("target_type", target_type, 50)
    query = where_given(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id),
                        (AuditEvent.user_id, user_id), (AuditEvent.action, action),
                        (AuditEvent.target_type, target_type), (AuditEvent.target_id, target_id))
    query = in_period(query, AuditEvent.created_at, since, until)
    query = older_than(query, AuditEvent, tenant_id, before, _l("Audit entry not found."))
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    return list(db.session.scalars(page(query, limit, offset)))


@in_tenant
def filter_choices(actor: Actor, tenant_id: str) -> dict[str, list[str]]:
    """The users, actions and target types that occur in the tenant's trail (the audit page's filters)."""
    rbac.require(actor, rbac.AUDIT_READ, tenant_id)
    in_tenant_trail = AuditEvent.tenant_id == tenant_id
    return {name: [value for value in db.session.scalars(select(column).where(in_tenant_trail).distinct()
                                                          .order_by(column)) if value]
            for name, column in (("users", AuditEvent.user_id), ("actions", AuditEvent.action),
                                 ("targets", AuditEvent.target_type))}
