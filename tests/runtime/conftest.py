import pytest

from runtime import HostRegistry, ResourceLimits, RunRequest, RuntimePool


@pytest.fixture(scope="session")
def shared_pool():
    """One supervisor with its runner processes for the whole session: starting one costs ~0.1 s."""
    pool = RuntimePool(runners=4, tenant_concurrency=5, acquire_timeout=2.0)
    yield pool
    assert pool.close(timeout=5)


@pytest.fixture
def host(shared_pool):
    """A fresh host registry for this test, served by the shared pool."""
    shared_pool.host = HostRegistry()
    return shared_pool.host


@pytest.fixture
def pool(shared_pool, host):
    return shared_pool


@pytest.fixture
def make_pool():
    """make_pool(**options) -> a RuntimePool of its own, closed (its runners stopped) after the test."""
    pools = []

    def _make(**options) -> RuntimePool:
        pools.append(RuntimePool(**options))
        return pools[-1]

    yield _make
    for pool in pools:
        pool.close(timeout=5)


@pytest.fixture
def run(pool):
    """Run `source` through the pool: run(source, input=..., handler=..., tenant=..., **limits)."""

    def _run(source, input=None, handler="main", tenant="tenant-a", credentials=None, metadata=None,
             context=None, modules=None, **limits):
        request = RunRequest(
            source=source, tenant_id=tenant, handler=handler, input=input,
            context=context or {"scriptId": "s1", "executionId": "e1"},
            credentials=credentials or {}, metadata=metadata or [],
            limits=ResourceLimits(**limits) if limits else ResourceLimits(), modules=modules or {},
        )
        return pool.run(request)

    return _run
