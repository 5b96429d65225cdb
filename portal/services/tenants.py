"""Tenants as the platform runs them: their settings (limits within the platform's maxima, default time
zone and language), usage for superadmins, deactivation, and the audit of a superadmin acting as one.

Writes to a tenant row happen in system scope: on PostgreSQL the app role cannot change its own tenant
row in tenant scope (migration 0004), so a tenant's limits only change through these checked paths.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Execution, Script, Tenant
from portal.services import audit, rbac
from portal.services.accounts import LANGUAGES
from portal.services.errors import NotFound, ValidationError
from portal.services.inputs import MAX_INT, is_id, timezone_error
from portal.services.rbac import Actor
from portal.services.scope import in_system

# Each limit a tenant has: its column, and the config key of the platform's maximum for it.
LIMITS = {
    "max_concurrency": "JSR_MAX_CONCURRENCY",
    "max_timeout_ms": "JSR_MAX_TIMEOUT_MS",
    "max_memory_mb": "JSR_MAX_MEMORY_MB",
    "max_host_calls": "JSR_MAX_HOST_CALLS",
    "max_http_per_minute": "JSR_MAX_HTTP_PER_MINUTE",
    "retention_days": "JSR_MAX_RETENTION_DAYS",
}
OPTIONAL_LIMITS = ("max_http_per_minute", "retention_days")  # None: the platform's default applies
SETTINGS = (*LIMITS, "timezone", "language")
ERROR_STATUSES = ("failed", "timeout")


@dataclass(frozen=True)
class Usage:
    tenant: Tenant
    scripts: int
    executions: int  # since the start of the day asked for
    errors: int


def maxima() -> dict[str, int]:
    """The highest value of each limit an org admin may set (JSR_MAX_*)."""
    return {field: current_app.config[key] for field, key in LIMITS.items()}


def snapshot(tenant: Tenant) -> dict[str, Any]:
    return {field: getattr(tenant, field) for field in SETTINGS}


def _tenant(tenant_id: str) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id) if is_id(tenant_id) else None
    if tenant is None:
        raise NotFound(_l("Unknown tenant."))
    return tenant


@in_system
def settings(actor: Actor, tenant_id: str) -> Tenant:
    rbac.require(actor, rbac.SETTINGS_MANAGE, tenant_id)
    return _tenant(tenant_id)


@in_system
def update_settings(actor: Actor, tenant_id: str, data: dict[str, Any]) -> Tenant:
    """Change any of SETTINGS; every limit is a whole number from 1 to the platform's maximum (an
    optional one may be None, for the platform's default). Audited with before and after."""
    rbac.require(actor, rbac.SETTINGS_MANAGE, tenant_id)
    tenant = _tenant(tenant_id)
    values = {field: data[field] for field in SETTINGS if field in data}
    errors = {}
    for field, maximum in maxima().items():
        if field not in values or (values[field] is None and field in OPTIONAL_LIMITS):
            continue
        value = values[field]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= min(maximum, MAX_INT):
            errors[field] = _l("Must be a whole number from %(minimum)s to %(maximum)s.", minimum=1, maximum=maximum)
    if "timezone" in values and (message := timezone_error(values["timezone"])) is not None:
        errors["timezone"] = message
    if values.get("language") is not None and values["language"] not in LANGUAGES:
        errors["language"] = _l("Choose one of: %(choices)s.", choices=", ".join(LANGUAGES))
    if errors:
        raise ValidationError(errors)
    summary, changes = audit.diff_summary(snapshot(tenant), {**snapshot(tenant), **values})
    if changes:
        for field, value in values.items():
            setattr(tenant, field, value)
        audit.record(actor, "tenant.settings", tenant_id=tenant.id, target_type="tenant", target_id=tenant.id,
                     summary=summary, details={"changes": changes})
        db.session.commit()
    return tenant


@in_system
def defaults(tenant_id: str) -> dict[str, str | None]:
    """The tenant's default language and time zone for members who chose none ({} for an unknown tenant)."""
    row = db.session.execute(select(Tenant.language, Tenant.timezone).where(Tenant.id == tenant_id)).first()
    return {"language": row.language, "timezone": row.timezone} if row else {}


@in_system
def http_rate(tenant_id: str | None) -> int | None:
    """The tenant's own outbound HTTP calls per minute, None for the platform's JSR_HTTP_RATE."""
    return db.session.scalar(select(Tenant.max_http_per_minute).where(Tenant.id == tenant_id)) if tenant_id else None


@in_system
def usage(actor: Actor, since: datetime) -> list[Usage]:
    """Every tenant by name with its scripts and its runs and failed runs since `since` (superadmins)."""
    rbac.require(actor, rbac.TENANTS_MANAGE)
    scripts = dict(db.session.execute(select(Script.tenant_id, func.count()).group_by(Script.tenant_id)).all())
    runs = db.session.execute(
        select(Execution.tenant_id, func.count(), func.count().filter(Execution.status.in_(ERROR_STATUSES)))
        .where(Execution.created_at >= since).group_by(Execution.tenant_id)).all()
    counted = {tenant_id: (total, failed) for tenant_id, total, failed in runs}
    return [Usage(tenant, scripts.get(tenant.id, 0), *counted.get(tenant.id, (0, 0)))
            for tenant in db.session.scalars(select(Tenant).order_by(Tenant.name, Tenant.slug))]


@in_system
def set_active(actor: Actor, tenant_id: str, active: bool) -> Tenant:
    """Deactivate a tenant (its members' sessions and tokens stop at once; queued runs are cancelled when
    claimed) or activate it again. Audited."""
    rbac.require(actor, rbac.TENANTS_MANAGE)
    if not isinstance(active, bool):
        raise ValidationError({"active": _l("Must be true or false.")})
    tenant = _tenant(tenant_id)
    if tenant.active != active:
        tenant.active = active
        audit.record(actor, "tenant.activate" if active else "tenant.deactivate", tenant_id=tenant.id,
                     target_type="tenant", target_id=tenant.id, summary=f"active: {not active!r} → {active!r}")
        db.session.commit()
    return tenant


@in_system
def record_acting(actor: Actor, tenant: Tenant, *, started: bool) -> None:
    """Note in the tenant's own audit trail that a superadmin began or stopped acting for it."""
    rbac.require(actor, rbac.TENANTS_MANAGE)
    audit.record(actor, "tenant.act_as" if started else "tenant.act_as_end", tenant_id=tenant.id,
                 target_type="tenant", target_id=tenant.id,
                 summary=f"{'began' if started else 'stopped'} acting as tenant {tenant.slug!r}")
    db.session.commit()
