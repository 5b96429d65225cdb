"""The full role × permission matrix, through the services."""

import pytest

from portal.services import rbac, scripts
from portal.services.errors import PermissionDenied
from portal.services.rbac import Actor, Role

SOURCE = "function main(input) { return 1 }"

EXPECTED = {
    Role.SUPERADMIN: set(rbac.ALL_PERMISSIONS),
    Role.ORG_ADMIN: set(rbac.ALL_PERMISSIONS) - {rbac.TENANTS_MANAGE},
    Role.DEVELOPER: {rbac.SCRIPTS_READ, rbac.SCRIPTS_CREATE, rbac.SCRIPTS_UPDATE, rbac.SCRIPTS_EXECUTE,
                     rbac.EXECUTIONS_CANCEL},
    Role.VIEWER: {rbac.SCRIPTS_READ},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", sorted(rbac.ALL_PERMISSIONS))
def test_matrix(role, permission):
    actor = Actor("u", None if role is Role.SUPERADMIN else "t1", role)
    assert actor.can(permission, "t1") is (permission in EXPECTED[role])
    # never in another tenant, unless superadmin
    assert actor.can(permission, "t2") is (role is Role.SUPERADMIN and permission in EXPECTED[role])


ACTIONS = {
    rbac.SCRIPTS_READ: lambda a, t, s: scripts.get(a, t, s.id),
    rbac.SCRIPTS_CREATE: lambda a, t, s: scripts.create(a, t, {"name": "New", "type": "oneoff", "source": SOURCE}),
    rbac.SCRIPTS_UPDATE: lambda a, t, s: scripts.update(a, t, s.id, {"description": "changed"}),
    rbac.SCRIPTS_DELETE: lambda a, t, s: scripts.delete(a, t, s.id),
}


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.DEVELOPER, Role.VIEWER])
@pytest.mark.parametrize("permission", sorted(ACTIONS))
def test_services_enforce_the_matrix(db_session, make_tenant, make_user, role, permission):
    tenant = make_tenant()
    owner = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(owner, tenant.id, {"name": "Job", "type": "oneoff", "source": SOURCE})
    actor = Actor.of(make_user(role=role.value, tenant=tenant))
    if permission in EXPECTED[role]:
        ACTIONS[permission](actor, tenant.id, script)
    else:
        with pytest.raises(PermissionDenied):
            ACTIONS[permission](actor, tenant.id, script)


@pytest.mark.parametrize("role", list(Role))
def test_platform_level_permissions_without_a_tenant_are_for_superadmins_only(role):
    actor = Actor("u", None if role is Role.SUPERADMIN else "t1", role)
    assert actor.can(rbac.SCRIPTS_READ, None) is (role is Role.SUPERADMIN)
    assert Actor.system().can(rbac.TENANTS_MANAGE, None)
