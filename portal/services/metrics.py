"""Prometheus metrics, added up over every web and worker process.

With PROMETHEUS_MULTIPROC_DIR set (before the process starts: prometheus-client reads it on import),
each process writes its values to files in that directory and `/metrics` adds up all of them, so
gunicorn workers and Huey workers count together. Without it, `/metrics` shows this process alone.
Clear the directory when the service (re)starts. `monitoring/alerts.yml` holds the alerting rules.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

from runtime import RunResult

QUEUE_DEPTH_KEY = "jsr.queue_depth"  # callable() -> pending tasks in the queue; bound by create_app
REGISTRY = CollectorRegistry()  # this process's own values, when not in multi-process mode
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

EXECUTIONS = Counter("jsr_executions_total", "Executions that ended, by tenant, script type, trigger and status",
                     ["tenant", "type", "trigger", "status"], registry=REGISTRY)
DURATION = Histogram("jsr_execution_duration_seconds", "Run time of executions", ["trigger"], buckets=_SECONDS,
                     registry=REGISTRY)
MEMORY = Histogram("jsr_execution_memory_ratio", "Memory an execution used, as a share of its limit",
                   buckets=(0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0), registry=REGISTRY)
POOL_IN_USE = Gauge("jsr_pool_runners_in_use", "Runner processes running a script", registry=REGISTRY,
                    multiprocess_mode="livesum")
POOL_IDLE = Gauge("jsr_pool_runners_idle", "Runner processes ready for a run", registry=REGISTRY,
                  multiprocess_mode="livesum")
RETRIES = Counter("jsr_event_retries_total", "Event deliveries queued again after a failed attempt", ["tenant"],
                  registry=REGISTRY)
DEAD_LETTERS = Counter("jsr_dead_letters_total", "Event deliveries that failed every attempt", ["tenant"],
                       registry=REGISTRY)
TICK = Histogram("jsr_scheduler_tick_seconds", "Duration of a scheduler pass", buckets=_SECONDS, registry=REGISTRY)
LAG = Histogram("jsr_scheduler_lag_seconds", "How late a scheduled slot was fired", buckets=_SECONDS,
                registry=REGISTRY)
WEBHOOKS = Counter("jsr_webhook_responses_total", "Webhook answers by HTTP status", ["status"], registry=REGISTRY)


def execution_finished(tenant_id: str, script_type: str, trigger: str, status: str, result: RunResult | None,
                       memory_limit: int | None = None) -> None:
    EXECUTIONS.labels(tenant_id, script_type, trigger, status).inc()
    if result is not None:
        DURATION.labels(trigger).observe(result.duration_ms / 1000)
        if memory_limit:
            MEMORY.observe(result.memory_bytes / memory_limit)


def slot_fired(lag_seconds: float, runs: int) -> None:
    """LAG observed once for each of `runs` runs fired that late at once: a pass fires thousands of runs of
    one slot, and as many observe() calls would cost more than the rest of the pass. prometheus-client has
    no weighted observe, so this is observe()'s own arithmetic (buckets are kept per bound, not cumulated)."""
    LAG._sum.inc(lag_seconds * runs)
    for bound, bucket in zip(LAG._upper_bounds, LAG._buckets, strict=True):
        if lag_seconds <= bound:
            bucket.inc(runs)
            break


def pool_state(pool_metrics: dict) -> None:
    POOL_IN_USE.set(pool_metrics["in_use"])
    POOL_IDLE.set(pool_metrics["idle"])


class _QueueDepth:
    """The queue's pending tasks, read when scraped (one number for the whole cluster)."""

    def __init__(self, count) -> None:
        self.count = count

    def collect(self):
        yield GaugeMetricFamily("jsr_queue_depth", "Tasks waiting in the queue", value=self.count())


def exposition(queue_depth) -> bytes:
    """The text format of every metric; `queue_depth()` counts the queue's pending tasks."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Own())
    registry.register(_QueueDepth(queue_depth))
    return generate_latest(registry)


class _Own:
    """This process's metrics, as one collector of the answer's registry."""

    def collect(self):
        return REGISTRY.collect()
