"""End-to-end benchmarks of the triggers (`make bench-e2e`, before the scheduler's tick_bench).

(a) webhooks: a small http script answering JSON, through gunicorn (gunicorn.conf.py, --workers = cores)
    on 127.0.0.1 at 32 concurrent keep-alive clients, against the bare Flask JSON endpoint of
    bench/bare_app.py under the same gunicorn settings, measured in the same run;
(b) events end to end: events published in batches of 100 (the service behind POST /api/v1/events) →
    delivered by real `python -m tasks.worker` processes → one run each of a matching event script →
    its execution row final; from the first publish to the last row.
Both on the embedded stack and on Redis + PostgreSQL when they answer (bench/stacks.py). Prints figures
and ratios; it asserts nothing.
"""

import argparse
import os
import socket
import sys
import time

import flask_migrate
from sqlalchemy import func, select

from bench import load
from bench.stacks import Stack, gunicorn, process, stacks, wait_healthy
from portal import create_app
from portal.extensions import db
from portal.models import Execution, Tenant
from portal.services import events, scripts
from portal.services.executions import FINAL_STATUSES
from portal.services.rbac import Actor
from portal.tenancy import system_scope

HOOK_SOURCE = "async function handler(request, ctx) { return {status: 200, body: {ok: true, n: request.body.n}} }"
EVENT_SOURCE = "async function onEvent(event, ctx) { return event.payload.n * 2 }"
BATCH = events.MAX_BATCH
UNLIMITED_HOOK_RATE = "1000000 per second"  # the benchmark measures the server, not the rate limiter


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare(stack: Stack):
    """A migrated database with one tenant, an active webhook script and an active event script."""
    app = create_app(stack.overrides())
    with app.app_context():
        flask_migrate.upgrade()
        with system_scope():
            tenant = Tenant(slug="bench", name="Bench", max_concurrency=16)
            db.session.add(tenant)
            db.session.commit()
            tenant_id = tenant.id
        actor = Actor.system()
        for data in ({"name": "hook", "type": "http", "source": HOOK_SOURCE, "http_path": "echo",
                      "http_methods": ["POST"], "concurrency": 16},
                     {"name": "on-bench", "type": "event", "source": EVENT_SOURCE, "event_patterns": ["bench.*"],
                      "concurrency": 16}):
            script = scripts.create(actor, tenant_id, data)
            scripts.set_status(actor, tenant_id, script.id, "active")
        db.session.remove()
    return app, tenant_id


def bench_webhooks(stack: Stack, clients: int, seconds: float) -> None:
    workers = os.cpu_count() or 2
    results = {}
    for label, spec, path, extra in (
            ("bare flask", "bench.bare_app:create_app()", "/echo", {}),
            ("webhook", "app:create_app()", "/hooks/bench/echo", {"JSR_HOOK_RATE": UNLIMITED_HOOK_RATE})):
        port = _free_port()
        env = stack.environment(**extra)
        with process(gunicorn(spec, port, workers), env, stack.directory / f"gunicorn-{label.replace(' ', '-')}.log"):
            base = f"http://127.0.0.1:{port}"
            wait_healthy(base)
            results[label] = load.run(base + path, clients=clients, seconds=seconds, body={"n": 1})
        print(results[label].line(f"  {label}"))
    hook, bare = results["webhook"], results["bare flask"]
    print(f"  (gunicorn -c gunicorn.conf.py --workers {workers}, {clients} clients, {seconds:.0f} s each; "
          f"target: ratio >= 0.70, webhook p99 <= 20 ms)")
    print(f"ratio: webhook / bare flask throughput: {hook.throughput / bare.throughput:.2f}")
    print(f"webhook p99: {hook.percentile(99):.1f} ms, bare flask p99: {bare.percentile(99):.1f} ms")


def _final_runs(tenant_id: str) -> int:
    with system_scope():
        count = db.session.scalar(select(func.count()).select_from(Execution).where(
            Execution.tenant_id == tenant_id, Execution.trigger == "event", Execution.status.in_(FINAL_STATUSES)))
        db.session.commit()
    return count


def bench_events(stack: Stack, app, tenant_id: str, count: int, timeout: float) -> None:
    env = stack.environment()
    with process([sys.executable, "-m", "tasks.worker"], env, stack.directory / "worker.log"), app.app_context():
        actor = Actor.system()
        events.publish_many(actor, tenant_id, [{"type": "bench.warmup", "payload": {"n": 0}}])
        deadline = time.monotonic() + 60
        while _final_runs(tenant_id) < 1:  # the workers are up and their runners warm
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker ran nothing within 60 s; see {stack.directory / 'worker.log'}")
            time.sleep(0.1)
        started = time.monotonic()
        for first in range(0, count, BATCH):
            events.publish_many(actor, tenant_id, [{"type": "bench.order", "payload": {"n": n}}
                                                   for n in range(first, min(first + BATCH, count))])
        published = time.monotonic() - started
        done, deadline = 0, started + timeout
        while (done := _final_runs(tenant_id) - 1) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        failed = _failed_runs(tenant_id)
        db.session.remove()
    note = "" if done >= count else f"  (only {done} of {count} within {timeout:.0f} s)"
    print(f"  {count} events published in {published:.2f} s; {done} runs final after {elapsed:.2f} s, "
          f"{failed} not completed")
    print(f"events/s end to end: {done / elapsed:.0f}  [{stack.label}]{note}")


def _failed_runs(tenant_id: str) -> int:
    with system_scope():
        count = db.session.scalar(select(func.count()).select_from(Execution).where(
            Execution.tenant_id == tenant_id, Execution.trigger == "event", Execution.status != "completed"))
        db.session.commit()
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    with stacks() as available:
        for stack in available:
            print(f"stack: {stack.label}")
            app, tenant_id = _prepare(stack)
            bench_webhooks(stack, args.clients, args.seconds)
            bench_events(stack, app, tenant_id, args.events, args.timeout)
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
