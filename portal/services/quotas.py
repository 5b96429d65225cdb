"""Concurrency quotas of tenants and scripts across every web and worker process.

With REDIS_URL, every run holds a lease in two Redis semaphores (its tenant's and its script's) while it
runs: an inline run (webhook, run API, Run button) before it starts, a worker's run after its batch
claimed it. A lease is a member of a sorted set scored with its expiry, taken by one Lua script (so two
processes never both take the last place) and expiring at the run's time limit plus LEASE_GRACE_S, so a
process that died mid-run frees its places on its own. A worker's run refused a lease goes back to the
queue; an inline run refused one is answered 429.

Without Redis the database counts: the `running` rows are the workers' leases (`executions._claim`), and
an inline run, which has no row while it runs (it is written once, finished), must find them below the
quotas before it starts; its own web process's runner pool counts it meanwhile. So without Redis the bound
holds per process and against the workers, not between the inline runs of several web processes.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Execution
from portal.services.cache import redis_client

LEASE_GRACE_S = 30  # a lease outlives its run's time limit by this much at most
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local ttl = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then
    return 0
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, ttl)
  end
end
return 1
"""


@contextmanager
def lease(tenant_id: str, script_id: str, tenant_limit: int, script_limit: int, timeout_ms: int, *,
          counted_in_database: bool = False) -> Iterator[bool]:
    """Whether a run of `script_id` may go on now; its place is held for the `with` block.

    `counted_in_database`: the run's own `running` row counts already (a worker's claimed run), so without
    Redis there is nothing more to check."""
    client = redis_client()
    if client is None:
        yield counted_in_database or _room_in_database(tenant_id, script_id, tenant_limit, script_limit)
        return
    keys = [f"jsr:quota:tenant:{tenant_id}", f"jsr:quota:script:{script_id}"]
    member = uuid.uuid4().hex
    ttl_ms = timeout_ms + LEASE_GRACE_S * 1000
    granted = bool(client.eval(_ACQUIRE, len(keys), *keys, member, ttl_ms, tenant_limit, script_limit))
    try:
        yield granted
    finally:
        if granted:
            with client.pipeline(transaction=False) as pipeline:
                for key in keys:
                    pipeline.zrem(key, member)
                pipeline.execute()


def _room_in_database(tenant_id: str, script_id: str, tenant_limit: int, script_limit: int) -> bool:
    def running(*conditions):
        return (select(func.count()).select_from(Execution).where(Execution.status == "running", *conditions)
                .scalar_subquery())

    by_tenant, by_script = db.session.execute(select(running(Execution.tenant_id == tenant_id),
                                                     running(Execution.script_id == script_id))).one()
    return by_tenant < tenant_limit and by_script < script_limit
