"""Pool: prepared contexts per thread, quotas, metrics, drain."""

import threading
import time

import pytest

from runtime import ErrorKind, ResourceLimits, RunRequest, RuntimeBusy, RuntimeClosed, RuntimePool


def test_prepared_context_is_a_hit_and_single_use(pool):
    pool.prepare()
    assert pool.metrics()["ready"] == 1
    assert pool.run(RunRequest(source="function main() { return 1 }", tenant_id="t")).output == 1
    after = pool.metrics()
    assert after["hits"] == 1 and after["misses"] == 0 and after["ready"] == 0
    assert after["discarded"] == 1  # used contexts are never reused
    pool.run(RunRequest(source="function main() { return 1 }", tenant_id="t"))
    assert pool.metrics()["misses"] == 1


def test_idle_prepared_context_is_released():
    pool = RuntimePool(idle_ttl=0.05)
    pool.prepare()
    time.sleep(0.1)
    pool.prepare()  # replaces the stale one
    metrics = pool.metrics()
    assert metrics["created"] == 2 and metrics["discarded"] == 1 and metrics["ready"] == 1
    pool.release_idle()
    assert pool.metrics()["ready"] == 0


def test_compilation_cache_counts_hits(pool):
    request = RunRequest(source="function main() { return 2 }", tenant_id="t")
    pool.run(request)
    pool.run(request)
    metrics = pool.metrics()
    assert metrics["cache_misses"] == 1 and metrics["cache_hits"] == 1 and metrics["cache_entries"] == 1


def test_cache_is_lru_bounded():
    pool = RuntimePool(cache_size=2)
    for n in range(3):
        pool.cache.compile(f"function main() {{ return {n} }}")
    pool.cache.compile("function main() { return 0 }")
    assert len(pool.cache) == 2 and pool.cache.misses == 4


def _hold(pool, tenant, entered, release, errors):
    try:
        with pool.acquire(tenant):
            entered.release()
            release.wait(10)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.append(exc)


def test_sixth_acquire_of_a_tenant_waits_while_another_tenant_proceeds():
    pool = RuntimePool(max_concurrent=10, tenant_concurrency=5, acquire_timeout=5)
    entered, release, errors = threading.Semaphore(0), threading.Event(), []
    holders = [threading.Thread(target=_hold, args=(pool, "busy", entered, release, errors)) for _ in range(5)]
    for thread in holders:
        thread.start()
    for _ in range(5):
        assert entered.acquire(timeout=5)

    sixth_done = threading.Event()

    def sixth():
        with pool.acquire("busy"):
            sixth_done.set()

    waiter = threading.Thread(target=sixth)
    waiter.start()
    assert not sixth_done.wait(0.2), "the sixth run of one tenant must wait"
    other = pool.run(RunRequest(source="function main() { return 'other' }", tenant_id="calm"))
    assert other.output == "other"
    assert pool.metrics()["tenants_running"] == {"busy": 5}
    release.set()
    assert sixth_done.wait(5)
    waiter.join(5)
    for thread in holders:
        thread.join(5)
    assert not errors
    metrics = pool.metrics()
    assert metrics["waits"] >= 1 and metrics["wait_ms_max"] > 100 and metrics["in_use"] == 0


def test_acquire_gives_up_after_the_bound():
    pool = RuntimePool(tenant_concurrency=1, acquire_timeout=0.1)
    entered, release, errors = threading.Semaphore(0), threading.Event(), []
    holder = threading.Thread(target=_hold, args=(pool, "t", entered, release, errors))
    holder.start()
    assert entered.acquire(timeout=5)
    with pytest.raises(RuntimeBusy):
        with pool.acquire("t"):
            pass
    busy = pool.run(RunRequest(source="function main() {}", tenant_id="t"))
    assert busy.error.kind is ErrorKind.BUSY
    release.set()
    holder.join(5)
    assert pool.metrics()["rejected"] == 2


def test_global_cap_applies_across_tenants():
    pool = RuntimePool(max_concurrent=1, acquire_timeout=0.1)
    entered, release, errors = threading.Semaphore(0), threading.Event(), []
    holder = threading.Thread(target=_hold, args=(pool, "a", entered, release, errors))
    holder.start()
    assert entered.acquire(timeout=5)
    assert pool.run(RunRequest(source="function main() {}", tenant_id="b")).error.kind is ErrorKind.BUSY
    release.set()
    holder.join(5)


def test_close_drains_running_work_and_refuses_new_runs():
    pool = RuntimePool()
    entered, release, errors = threading.Semaphore(0), threading.Event(), []
    holder = threading.Thread(target=_hold, args=(pool, "t", entered, release, errors))
    holder.start()
    assert entered.acquire(timeout=5)
    assert pool.close(timeout=0.05) is False  # still running
    with pytest.raises(RuntimeClosed):
        with pool.acquire("t"):
            pass
    release.set()
    holder.join(5)
    assert pool.close(timeout=5) is True


def test_script_quota_is_separate_from_the_tenant_quota():
    pool = RuntimePool(tenant_concurrency=5, script_concurrency=1, acquire_timeout=0.1)
    entered, release = threading.Semaphore(0), threading.Event()

    def hold():
        with pool.acquire("t", script_id="s1"):
            entered.release()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.acquire(timeout=5)
    same_script = pool.run(RunRequest(source="function main() {}", tenant_id="t", context={"scriptId": "s1"}))
    other_script = pool.run(RunRequest(source="function main() { return 2 }", tenant_id="t",
                                       context={"scriptId": "s2"}))
    assert same_script.error.kind is ErrorKind.BUSY and other_script.output == 2
    assert pool.metrics()["scripts_running"] == {"s1": 1}
    release.set()
    holder.join(5)


def test_oversize_source_is_refused_before_any_parse():
    pool = RuntimePool()
    huge = "function main() {}\n" + "// padding\n" * 20_000
    result = pool.run(RunRequest(source=huge, tenant_id="t", limits=ResourceLimits(source_bytes=1000)))
    assert result.error.kind is ErrorKind.SOURCE_TOO_LARGE
    metrics = pool.metrics()
    assert metrics["cache_entries"] == 0 and metrics["cache_misses"] == 0 and metrics["created"] == 0
