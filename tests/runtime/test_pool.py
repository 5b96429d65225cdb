"""The supervisor: runner processes, the wall-clock watchdog, crashes, quotas, drain.

Every run here goes through a real runner process. Runs are held open with a host
handler that blocks on an event, the way a slow host call would hold them.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

import pytest

from runtime import ErrorKind, HostRegistry, ResourceLimits, RunnerSettings, RunRequest

GRACE_SLACK = 1.5  # seconds of scheduling noise allowed on a loaded 2-core machine

# Built-ins whose native loops never poll QuickJS's interrupt, and tricks that turn the
# uncatchable interrupt into a catchable error: each ran forever before the watchdog.
NEVER_ENDING = {
    "join": "Array.prototype.join.call({length: 2**53-1}, '')",
    "copyWithin": "Array.prototype.copyWithin.call({length: 2**53-1}, 0, 1)",
    "sort": "Array.prototype.sort.call({length: 2**53-1})",
    "reverse": "Array.prototype.reverse.call({length: 2**53-1})",
    "splice": "Array.prototype.splice.call({length: 2**53-1}, 0, 1)",
    "shift": "Array.prototype.shift.call({length: 2**53-1})",
    "unshift": "Array.prototype.unshift.call({length: 2**53-2}, 1)",
    "slice": "Array.prototype.slice.call({length: 2**32-1})",
    "flat": "Array.prototype.flat.call({length: 2**53-1})",
    "concat": "[].concat({length: 2**53-1, [Symbol.isConcatSpreadable]: true})",
    "toLocaleString": "Array.prototype.toLocaleString.call({length: 2**53-1})",
    "Promise.try": "(() => { while (true) { try { Promise.try(() => { for (;;) {} }) } catch (e) {} } })()",
    "Promise executor": "(() => { while (true) { try { new Promise(() => { for (;;) {} }) } catch (e) {} } })()",
    "stackTraceLimit valueOf": "(() => { Error.stackTraceLimit = {valueOf() { for (;;) {} }};"
                               " while (true) { try { new Error('x') } catch (e) {} } })()",
    "slow native calls": "(() => { const s = 'a'.repeat(2**24); for (;;) s.indexOf('b') })()",
}


def request(source, tenant="t", timeout_ms=30_000, **context):
    return RunRequest(source=source, tenant_id=tenant, context=context,
                      limits=ResourceLimits(timeout_ms=timeout_ms))


def timed(pool, req):
    started = time.monotonic()
    result = pool.run(req)
    return result, time.monotonic() - started


@pytest.fixture
def gate():
    """A host API `ctx.cache` whose calls block until the test opens the gate."""
    entered, opened = threading.Semaphore(0), threading.Event()

    def blocking(call):
        entered.release()
        opened.wait(10)
        return "released"

    registry = HostRegistry()
    registry.register("cache", blocking)
    yield registry, entered, opened
    opened.set()


HOLD = "async function main(i, ctx) { return await ctx.cache.get('k') }"


def hold_in_thread(pool, results, req):
    thread = threading.Thread(target=lambda: results.append(pool.run(req)))
    thread.start()
    return thread


@pytest.mark.parametrize("name", sorted(NEVER_ENDING))
def test_a_run_that_never_yields_is_killed_at_its_deadline(pool, name):
    result, elapsed = timed(pool, request(f"function main() {{ return {NEVER_ENDING[name]} }}", timeout_ms=300))
    assert result.error.kind is ErrorKind.TIMEOUT
    assert elapsed < 0.3 + pool.grace + GRACE_SLACK
    assert pool.run(request("function main() { return 'next' }")).output == "next"


@pytest.mark.parametrize("source", [
    "throw {toString() { for (;;) {} }}",  # the binding stringifies it with no time limit and the GIL held
    "Error.prototype.toString = function () { for (;;) {} }; function main() { for (;;) {} }",
])
def test_an_error_that_never_stringifies_is_killed_at_its_deadline(pool, source):
    result, elapsed = timed(pool, request(source, timeout_ms=300))
    assert result.error.kind is ErrorKind.TIMEOUT and elapsed < 0.3 + pool.grace + GRACE_SLACK


def test_the_deadline_is_wall_clock_even_when_the_cpu_is_contended(make_pool):
    pool = make_pool(runners=1)
    pool.start()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        result, elapsed = timed(pool, request("function main() { for (;;) {} }", timeout_ms=1000))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    # QuickJS's own limit counts process CPU time: beside 4 hogs on 2 cores, 1 s of CPU took ~2.5 s.
    assert result.error.kind is ErrorKind.TIMEOUT and elapsed < 1.0 + pool.grace + GRACE_SLACK


def test_a_hung_run_holds_no_quota_after_its_deadline(make_pool):
    pool = make_pool(runners=1, tenant_concurrency=1, acquire_timeout=5)
    never = f"function main() {{ return {NEVER_ENDING['join']} }}"
    hung = threading.Thread(target=pool.run, args=(request(never, timeout_ms=300),))
    hung.start()
    time.sleep(0.05)
    result, elapsed = timed(pool, request("function main() { return 'after' }"))
    hung.join(5)
    assert result.output == "after" and elapsed < 0.3 + pool.grace + GRACE_SLACK
    assert pool.metrics()["killed_timeout"] == 1


def test_a_runner_killed_mid_run_ends_that_run_crashed_and_the_next_run_succeeds(pool, gate):
    pool.host, entered, opened = gate
    results = []
    thread = hold_in_thread(pool, results, request(HOLD))
    assert entered.acquire(timeout=5)
    (pid,) = pool.metrics()["busy_pids"]
    os.kill(pid, signal.SIGKILL)
    opened.set()
    thread.join(5)
    assert results[0].error.kind is ErrorKind.CRASHED and results[0].status == "failed"
    assert pool.run(request("function main() { return 'fine' }")).output == "fine"
    assert pool.metrics()["crashed"] >= 1


def test_a_runner_that_dies_while_idle_is_replaced_before_it_is_used(make_pool):
    pool = make_pool(runners=1)
    pool.start()
    (pid,) = pool.metrics()["idle_pids"]
    os.kill(pid, signal.SIGSEGV)
    time.sleep(0.2)
    assert pool.run(request("function main() { return 1 }")).output == 1
    assert pid not in pool.metrics()["idle_pids"]


def test_runners_are_recycled_after_their_run_budget(make_pool):
    pool = make_pool(runners=1, max_runs_per_runner=2, acquire_timeout=5)
    outputs = [pool.run(request(f"function main() {{ return {n} }}")).output for n in range(5)]
    assert outputs == [0, 1, 2, 3, 4] and pool.metrics()["recycled"] >= 2


def test_the_address_space_cap_holds_beside_a_large_heap_limit(make_pool):
    pool = make_pool(runners=1, runner_settings=RunnerSettings(address_space_bytes=256 * 1024 * 1024))
    req = RunRequest(source="function main() { return 'x'.repeat(2 ** 29).length }", tenant_id="t",
                     limits=ResourceLimits(memory_bytes=2 * 1024 ** 3))
    result = pool.run(req)
    assert result.error is not None and result.error.kind in (ErrorKind.MEMORY, ErrorKind.CRASHED)
    assert pool.run(request("function main() { return 'after' }")).output == "after"


def test_runners_get_no_secrets_from_the_environment(pool):
    pool.start()
    pid = pool.metrics()["idle_pids"][0]
    with open(f"/proc/{pid}/environ", "rb") as file:
        environ = file.read().split(b"\0")
    names = {entry.split(b"=", 1)[0] for entry in environ if entry}
    assert names <= {b"PATH", b"LANG", b"TZ"} and b"TZ=UTC" in environ  # scripts see UTC as local time
    niceness = os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness == pool.runner_settings.niceness > 0  # runners yield the CPU to their supervisor


def test_sixth_run_of_a_tenant_waits_while_another_tenant_proceeds(make_pool, gate):
    pool = make_pool(runners=7, tenant_concurrency=5, acquire_timeout=5)
    pool.host, entered, opened = gate
    results = []
    holders = [hold_in_thread(pool, results, request(HOLD, tenant="busy")) for _ in range(5)]
    for _ in range(5):
        assert entered.acquire(timeout=5)
    sixth = hold_in_thread(pool, results, request(HOLD, tenant="busy"))
    assert not entered.acquire(timeout=0.2), "the sixth run of one tenant must wait"
    assert pool.run(request("function main() { return 'other' }", tenant="calm")).output == "other"
    assert pool.metrics()["tenants_running"] == {"busy": 5}
    opened.set()
    for thread in [*holders, sixth]:
        thread.join(5)
    assert [r.output for r in results] == ["released"] * 6
    metrics = pool.metrics()
    assert metrics["waits"] >= 1 and metrics["wait_ms_max"] > 100 and metrics["in_use"] == 0


def test_waiting_for_a_slot_gives_up_after_the_bound(make_pool, gate):
    pool = make_pool(runners=2, tenant_concurrency=1, acquire_timeout=0.1)
    pool.host, entered, opened = gate
    results = []
    holder = hold_in_thread(pool, results, request(HOLD))
    assert entered.acquire(timeout=5)
    assert pool.run(request("function main() {}")).error.kind is ErrorKind.BUSY
    opened.set()
    holder.join(5)
    assert pool.metrics()["rejected"] == 1


def test_the_runner_count_caps_runs_across_tenants(make_pool, gate):
    pool = make_pool(runners=1, acquire_timeout=0.1)
    pool.host, entered, opened = gate
    results = []
    holder = hold_in_thread(pool, results, request(HOLD, tenant="a"))
    assert entered.acquire(timeout=5)
    assert pool.run(request("function main() {}", tenant="b")).error.kind is ErrorKind.BUSY
    opened.set()
    holder.join(5)


def test_script_quota_is_separate_from_the_tenant_quota(make_pool, gate):
    pool = make_pool(runners=3, tenant_concurrency=5, script_concurrency=1, acquire_timeout=0.1)
    pool.host, entered, opened = gate
    results = []
    holder = hold_in_thread(pool, results, request(HOLD, scriptId="s1"))
    assert entered.acquire(timeout=5)
    same_script = pool.run(request("function main() {}", scriptId="s1"))
    other_script = pool.run(request("function main() { return 2 }", scriptId="s2"))
    assert same_script.error.kind is ErrorKind.BUSY and other_script.output == 2
    assert pool.metrics()["scripts_running"] == {"s1": 1}
    opened.set()
    holder.join(5)


def test_close_drains_running_work_then_stops_every_process(make_pool, gate):
    pool = make_pool(runners=2)
    pool.host, entered, opened = gate
    results = []
    holder = hold_in_thread(pool, results, request(HOLD))
    assert entered.acquire(timeout=5)
    pids = pool.metrics()["idle_pids"] + pool.metrics()["busy_pids"]
    threading.Timer(0.2, opened.set).start()
    assert pool.close(timeout=5) is True
    holder.join(5)
    assert results[0].output == "released"
    assert pool.run(request("function main() {}")).error.kind is ErrorKind.BUSY
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.02)
    assert not [pid for pid in pids if _alive(pid)]


def test_close_kills_runs_still_going_after_the_drain_period(make_pool):
    pool = make_pool(runners=1)
    results = []
    never = f"function main() {{ return {NEVER_ENDING['join']} }}"
    holder = hold_in_thread(pool, results, request(never, timeout_ms=30_000))
    deadline = time.monotonic() + 10
    while not pool.metrics()["busy_pids"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.close(timeout=0.1) is False
    holder.join(5)
    assert not holder.is_alive() and results[0].error.kind is ErrorKind.CRASHED


def test_oversize_source_is_refused_before_any_runner_starts(make_pool):
    pool = make_pool()
    huge = "function main() {}\n" + "// padding\n" * 20_000
    result = pool.run(RunRequest(source=huge, tenant_id="t", limits=ResourceLimits(source_bytes=1000)))
    assert result.error.kind is ErrorKind.SOURCE_TOO_LARGE and pool.metrics()["spawned"] == 0


def test_compilation_cache_counts_hits(make_pool):
    pool = make_pool(runners=1)
    req = request("function main() { return 2 }")
    pool.run(req)
    pool.run(req)
    metrics = pool.metrics()
    assert metrics["cache_misses"] == 1 and metrics["cache_hits"] == 1


def test_syntax_check_runs_in_a_runner(pool):
    error = pool.check("function main() {\n  const x = ;\n}")
    assert error.kind is ErrorKind.SYNTAX and (error.line, error.column) == (2, 13)
    assert pool.check("function main() { return 1 }") is None
    assert pool.check("// " + "y" * 50, max_bytes=10).kind is ErrorKind.SOURCE_TOO_LARGE


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_what_a_subverted_runner_sends_is_refused_without_harm(make_pool):
    """A runner that a QuickJS bug has taken over may send anything: the supervisor only parses JSON, safely."""
    from runtime.pool import Runner, _Lost
    from runtime.runner import result_from_wire

    pool = make_pool(runners=1)
    ours, theirs = socket.socketpair()
    runner, hostile = Runner(Connection(ours.detach()), os.getpid()), Connection(theirs.detach())
    try:
        for message in (b"[" * 100_000 + b"]" * 100_000, b"not json", b"\x80\x81", b"[1, 2]"):
            hostile.send_bytes(message)
            with pytest.raises(_Lost):
                pool._receive(runner, time.monotonic() + 1, 1 << 20)
        hostile.send_bytes(b"x" * 2048)
        with pytest.raises(_Lost):
            pool._receive(runner, time.monotonic() + 1, 1024)  # larger than the run allows
    finally:
        runner.close()
        hostile.close()
    envelope = {"logs": [], "error": None, "duration_ms": 1, "memory_bytes": 1, "host_calls": 0,
                "host_time_ms": 0, "host_call_timings": []}
    assert result_from_wire(envelope, "[[1]]").output == [[1]]
    with pytest.raises(ValueError):
        result_from_wire(envelope, "[" * 5000 + "]" * 5000)
    with pytest.raises(TypeError):
        result_from_wire({**envelope, "host_call_timings": "x"}, "1")


def test_a_dead_zygote_is_restarted_and_runs_go_on(make_pool):
    pool = make_pool(runners=2, acquire_timeout=10)
    pool.start()
    zygote_pid = pool._zygote.process.pid
    os.kill(zygote_pid, signal.SIGKILL)  # its runners die with it (PR_SET_PDEATHSIG)
    pool._zygote.process.wait(5)
    time.sleep(0.2)
    assert [pool.run(request(f"function main() {{ return {n} }}")).output for n in range(3)] == [0, 1, 2]
    assert pool._zygote.process.pid != zygote_pid and pool.metrics()["crashed"] >= 1
