"""Roles and permissions (ARCHITECTURE.md §5), checked here and again in views."""

from dataclasses import dataclass
from enum import StrEnum

from portal.services.errors import PermissionDenied


class Role(StrEnum):
    SUPERADMIN = "superadmin"
    ORG_ADMIN = "org_admin"
    DEVELOPER = "developer"
    VIEWER = "viewer"


SCRIPTS_READ = "scripts.read"
SCRIPTS_CREATE = "scripts.create"
SCRIPTS_UPDATE = "scripts.update"
SCRIPTS_DELETE = "scripts.delete"
SCRIPTS_EXECUTE = "scripts.execute"
EXECUTIONS_CANCEL = "executions.cancel"
USERS_MANAGE = "users.manage"
TOKENS_MANAGE = "tokens.manage"
AUDIT_READ = "audit.read"
TENANTS_MANAGE = "tenants.manage"
SECRETS_MANAGE = "secrets.manage"
SETTINGS_MANAGE = "settings.manage"  # a tenant's limits, default time zone and language

ALL_PERMISSIONS = frozenset({
    SCRIPTS_READ, SCRIPTS_CREATE, SCRIPTS_UPDATE, SCRIPTS_DELETE, SCRIPTS_EXECUTE, EXECUTIONS_CANCEL,
    USERS_MANAGE, TOKENS_MANAGE, AUDIT_READ, TENANTS_MANAGE, SECRETS_MANAGE, SETTINGS_MANAGE,
})

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.SUPERADMIN: ALL_PERMISSIONS,
    Role.ORG_ADMIN: ALL_PERMISSIONS - {TENANTS_MANAGE},
    Role.DEVELOPER: frozenset({SCRIPTS_READ, SCRIPTS_CREATE, SCRIPTS_UPDATE, SCRIPTS_EXECUTE, EXECUTIONS_CANCEL}),
    Role.VIEWER: frozenset({SCRIPTS_READ}),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, an API token, or the system (scheduler, CLI)."""

    user_id: str | None
    tenant_id: str | None  # None only for superadmins and the system
    role: Role
    token_id: str | None = None  # the API token the actor came with, if any (rate limits key on it)

    @classmethod
    def system(cls) -> "Actor":
        return cls(None, None, Role.SUPERADMIN)

    @classmethod
    def of(cls, user) -> "Actor":
        return cls(user.id, user.tenant_id, Role(user.role))

    def can(self, permission: str, tenant_id: str | None = None) -> bool:
        if permission not in ROLE_PERMISSIONS[self.role]:
            return False
        if self.role is Role.SUPERADMIN:
            return True
        # No tenant named means platform-level work: superadmins and the system only.
        return tenant_id is not None and self.tenant_id == tenant_id


def require(actor: Actor, permission: str, tenant_id: str | None = None) -> None:
    """Raise PermissionDenied unless `actor` holds `permission` in `tenant_id`."""
    if not actor.can(permission, tenant_id):
        raise PermissionDenied()
