"""Fixtures of the web tests: API calls with a bearer token of a given role."""

import pytest

from portal.services import accounts
from portal.services.rbac import Actor


@pytest.fixture
def api(client, make_tenant, make_user):
    """api(role) -> (call, tenant): call(method, path, json=...) with a bearer token of that role."""

    def _make(role="org_admin", tenant=None):
        tenant = tenant or make_tenant()
        user = make_user(role=role, tenant=tenant)
        secret, _ = accounts.create_token(Actor.system(), user.id, "test")

        def call(method, path, **kwargs):
            headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
            return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

        return call, tenant

    return _make
