"""The append-only audit trail: who changed what, when, with a diff summary."""

from typing import Any

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent
from portal.services import rbac
from portal.services.inputs import require_id, require_text
from portal.services.queries import page, where_given
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


@in_tenant
def list_events(actor: Actor, tenant_id: str, *, target_id: str | None = None, action: str | None = None,
                limit: int = 50, offset: int = 0) -> list[AuditEvent]:
    """The tenant's trail, newest first (org admins and superadmins)."""
    rbac.require(actor, rbac.AUDIT_READ, tenant_id)
    require_id("target_id", target_id)
    require_text("action", action, 64)
    query = where_given(select(AuditEvent).where(AuditEvent.tenant_id == tenant_id),
                        (AuditEvent.target_id, target_id), (AuditEvent.action, action))
    return list(db.session.scalars(page(query.order_by(AuditEvent.created_at.desc()), limit, offset)))
