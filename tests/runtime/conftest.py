import pytest

from runtime import HostRegistry, ResourceLimits, RunRequest, RuntimePool


@pytest.fixture
def host():
    return HostRegistry()


@pytest.fixture
def pool(host):
    pool = RuntimePool(host, max_concurrent=8, tenant_concurrency=5, acquire_timeout=2.0)
    yield pool
    assert pool.close(timeout=5)


@pytest.fixture
def run(pool):
    """Run `source` through the pool: run(source, input=..., handler=..., tenant=..., **limits)."""

    def _run(source, input=None, handler="main", tenant="tenant-a", credentials=None, metadata=None,
             context=None, **limits):
        request = RunRequest(
            source=source, tenant_id=tenant, handler=handler, input=input,
            context=context or {"scriptId": "s1", "executionId": "e1"},
            credentials=credentials or {}, metadata=metadata or [],
            limits=ResourceLimits(**limits) if limits else ResourceLimits(),
        )
        return pool.run(request)

    return _run
