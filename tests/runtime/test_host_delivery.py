"""Host answers are delivered as each call completes, through a real runner process (issue 10, point 5).

A fast call never waits for a slow one started beside it; the script goes on (new calls,
timers) while calls are outstanding; a run that ends with calls in flight leaves nothing
behind in the parent, and late answers never reach the runner's next run.
"""

import json
import os
import select
import signal
import socket
import threading
import time
from multiprocessing.connection import Connection

import pytest

from runtime import Engine, ErrorKind, HostCall, HostRegistry, ResourceLimits, RunRequest
from runtime.engine import CompilationCache


def sleeping(call):
    """ctx.cache.get(seconds) answers `seconds` after sleeping that long."""
    time.sleep(call.args[0])
    return call.args[0]


@pytest.fixture
def slow_host(host):
    host.register("cache", sleeping)
    return host


def test_promise_race_settles_with_the_fast_call(run, slow_host):
    result = run("async function main(input, ctx) {\n"
                 "  const started = Date.now();\n"
                 "  const first = await Promise.race([ctx.cache.get(1.0), ctx.cache.get(0.05)]);\n"
                 "  return [first, Date.now() - started];\n}")
    first, settled_ms = result.output
    assert first == 0.05 and settled_ms < 500
    # The slow call was not abandoned: the run ended once it had been answered too.
    assert result.host_calls == 2 and [r["ok"] for r in result.host_call_timings] == [True, True]


def test_a_chain_of_fast_calls_finishes_before_a_slow_call_beside_it(run, slow_host):
    result = run("async function main(input, ctx) {\n"
                 "  const started = Date.now(), done = {};\n"
                 "  const slow = ctx.cache.get(0.8).then(() => { done.slow = Date.now() - started; });\n"
                 "  const chain = (async () => { await ctx.cache.get(0.02); await ctx.cache.get(0.02);\n"
                 "                              done.chain = Date.now() - started; })();\n"
                 "  await Promise.all([slow, chain]);\n"
                 "  return done;\n}")
    assert result.output["chain"] < 400 <= result.output["slow"]
    # The record keeps call order, whatever order the answers came in.
    assert [r["ms"] >= 700 for r in result.host_call_timings] == [True, False, False]


def test_timers_fire_while_a_host_call_is_outstanding(run, slow_host):
    result = run("async function main(input, ctx) {\n"
                 "  const started = Date.now();\n"
                 "  const timeout = new Promise(resolve => setTimeout(() => resolve('timeout'), 50));\n"
                 "  const first = await Promise.race([ctx.cache.get(0.8), timeout]);\n"
                 "  return [first, Date.now() - started];\n}")
    assert result.output[0] == "timeout" and result.output[1] < 500


def test_a_call_the_script_did_not_await_still_completes(run, host):
    seen = []
    host.register("events", lambda call: seen.append(call.args[0]) or "ok")
    result = run("function main(input, ctx) { ctx.events.publish('late', {}); return 1 }")
    assert result.output == 1 and seen == ["late"] and result.host_calls == 1


def test_the_in_process_engine_delivers_as_calls_complete():
    registry = HostRegistry()
    registry.register("cache", sleeping)
    source = ("async function main(input, ctx) { const started = Date.now();\n"
              "  await Promise.race([ctx.cache.get(0.6), ctx.cache.get(0.02)]); return Date.now() - started; }")
    result = Engine().run(RunRequest(source=source, tenant_id="t"), CompilationCache().compile(source), registry)
    assert result.ok and result.output < 400


@pytest.fixture
def gated():
    """A registry whose ctx.cache calls block until the gate opens; at most 2 of a run's calls run at once."""
    entered, opened = [], threading.Event()

    def blocking(call):
        entered.append(call.args[0])
        opened.wait(10)
        return call.args[0]

    registry = HostRegistry(max_parallel_per_run=2)
    registry.register("cache", blocking)
    yield registry, entered, opened
    opened.set()


FIVE_CALLS = ("async function main(input, ctx) {\n"
              "  return await Promise.all([1, 2, 3, 4, 5].map(n => ctx.cache.get(n)));\n}")


def _wait_for(condition, within=5.0):
    until = time.monotonic() + within
    while not condition():
        assert time.monotonic() < until, "timed out waiting"
        time.sleep(0.01)


def test_a_runner_killed_with_calls_outstanding_ends_crashed_and_leaves_no_host_thread_busy(make_pool, gated):
    registry, entered, opened = gated
    pool = make_pool(host=registry, runners=1)
    results = []
    thread = threading.Thread(target=lambda: results.append(pool.run(RunRequest(source=FIVE_CALLS, tenant_id="t"))))
    thread.start()
    _wait_for(lambda: len(entered) == 2)  # the run's bound: the other three wait in its own queue
    (pid,) = pool.metrics()["busy_pids"]
    os.kill(pid, signal.SIGKILL)
    thread.join(3)
    assert not thread.is_alive(), "the run's thread must not wait for its host calls"
    assert results[0].error.kind is ErrorKind.CRASHED
    opened.set()
    _wait_for(lambda: registry.in_flight == 0)
    time.sleep(0.1)
    assert sorted(entered) == [1, 2]  # the queued calls never started
    assert pool.run(RunRequest(source="function main() { return 'next' }", tenant_id="t")).output == "next"


def test_a_run_that_times_out_with_calls_outstanding_drops_their_late_answers(make_pool, gated):
    registry, entered, opened = gated
    pool = make_pool(host=registry, runners=1)
    started = time.monotonic()
    result = pool.run(RunRequest(source=FIVE_CALLS, tenant_id="t", limits=ResourceLimits(timeout_ms=300)))
    assert result.error.kind is ErrorKind.TIMEOUT and time.monotonic() - started < 2
    opened.set()  # the two running calls answer now, to a runner that has moved on
    _wait_for(lambda: registry.in_flight == 0)
    after = pool.run(RunRequest(source="async function main(i, ctx) { return [await ctx.cache.get(7), 'next'] }",
                                tenant_id="t"))
    assert after.output == [7, "next"] and sorted(entered) == [1, 2, 7]
    assert pool.metrics()["crashed"] == 0 and pool.metrics()["spawned"] == 1


def test_a_subverted_runners_host_calls_are_checked_before_any_is_served(make_pool):
    seen = []
    registry = HostRegistry()
    registry.register("cache", lambda call: seen.append(call.args))
    pool = make_pool(host=registry, runners=1)
    session = registry.session(lambda answer: None)
    request = RunRequest(source="", tenant_id="t")
    for call in ({"key": "1", "args": []}, {"key": True, "args": []}, {"key": 1, "args": {"not": "a list"}}):
        with pytest.raises(TypeError):
            pool._serve(session, request, time.monotonic() + 1, [{"api": "cache", "method": "get", **call}])
    session.close()
    time.sleep(0.05)
    assert seen == []


def test_answers_that_belong_to_no_outstanding_call_are_dropped(make_pool):
    from runtime.runner import RemoteHost, encode

    ours, theirs = socket.socketpair()
    parent, child = Connection(ours.detach()), Connection(theirs.detach())
    try:
        poller = select.poll()
        poller.register(child.fileno(), select.POLLIN)
        channel = RemoteHost(child, poller).channel()
        channel.submit([(5, HostCall(tenant_id="t", api="cache", method="get", args=[1], deadline=0))])
        sent = json.loads(parent.recv_bytes())
        wire_key = sent["calls"][0]["key"]
        parent.send_bytes(encode({"op": "host", "answers": [[wire_key + 100, {"ok": True, "value": "stale"}, 1]]}))
        assert channel.wait(0.05) == []
        parent.send_bytes(encode({"op": "host", "answers": [[wire_key, {"ok": True, "value": "mine"}, 2]]}))
        assert channel.wait(1) == [(5, {"ok": True, "value": "mine"}, 2.0)]
    finally:
        parent.close()
        child.close()
    # A runner between runs reads a late answer and goes on serving.
    pool = make_pool(runners=1)
    pool.start()
    (runner,) = pool._idle
    runner.send({"op": "host", "answers": [[12345, {"ok": True, "value": "late"}, 1]]})
    assert pool.run(RunRequest(source="function main() { return 'next' }", tenant_id="t")).output == "next"
    assert pool.metrics()["crashed"] == 0
