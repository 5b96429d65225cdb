"""ctx.db, ctx.cache and ctx.secrets served by the portal, through real runs, on SQLite and PostgreSQL."""

import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select
from sqlalchemy import update as sa_update

from portal.models import AuditEvent, CacheEntry, DataRecord
from portal.services import executions, hostapi, scripts, secrets
from portal.services.errors import PermissionDenied
from portal.services.rbac import Actor
from portal.tenancy import system_scope
from runtime import HostCall, HostError
from tests.conftest import redis_url_or_skip


def run_script(make_user, tenant, source, input=None):
    actor = Actor.of(make_user(role="org_admin", tenant=tenant))
    script = scripts.create(actor, tenant.id, {"name": f"job-{time.monotonic_ns()}", "type": "oneoff",
                                               "source": source})
    return executions.run_now(actor, tenant.id, script.id, input)


def output(make_user, tenant, body, input=None):
    source = ("async function main(input, ctx) {\n  try {\n" + body +
              "\n  } catch (e) { return {error: e.name + ': ' + e.message}; }\n}\n")
    execution = run_script(make_user, tenant, source, input)
    assert execution.status == "completed", execution.error
    return execution.output


def test_db_round_trip(db_session, make_tenant, make_user):
    tenant = make_tenant()
    out = output(make_user, tenant, """
    const a = await ctx.db.insert('orders', {n: 1, status: 'paid'});
    const b = await ctx.db.insert('orders', {n: 2, status: 'open'});
    const found = await ctx.db.findById('orders', a._id);
    const changed = await ctx.db.update('orders', b._id, {status: 'paid', note: null});
    const all = await ctx.db.query('orders', {orderBy: '-n'});
    const gone = await ctx.db.delete('orders', a._id);
    const again = await ctx.db.delete('orders', a._id);
    const left = await ctx.db.query('orders');
    return {found, changed, all: all.map(d => d.n), gone, again, left: left.map(d => d.n)};""")
    assert out["found"]["n"] == 1 and out["found"]["status"] == "paid" and len(out["found"]["_id"]) == 36
    assert out["changed"]["status"] == "paid" and out["changed"]["note"] is None and out["changed"]["n"] == 2
    assert out["all"] == [2, 1] and out["gone"] is True and out["again"] is False and out["left"] == [2]


def test_db_where_operators(db_session, make_tenant, make_user):
    tenant = make_tenant()
    out = output(make_user, tenant, """
    for (const [n, tag] of [[1, 'a'], [5, 'b'], [10, 'a'], [20, null]]) await ctx.db.insert('items', {n, tag});
    await ctx.db.insert('items', {n: 30});
    const q = async (where, extra) => (await ctx.db.query('items', {where, orderBy: 'n', ...extra})).map(d => d.n);
    return {
      eq: await q({tag: 'a'}), gte: await q({n: {$gte: 5, $lt: 20}}), inn: await q({n: {$in: [1, 20, 99]}}),
      ne: await q({tag: {$ne: 'a'}}), nul: await q({tag: null}), page: await q({}, {limit: 2, offset: 1}),
      other: await q({tag: 'a'}, {}) && (await ctx.db.query('elsewhere')).length,
    };""")
    assert out == {"eq": [1, 10], "gte": [5, 10], "inn": [1, 20], "ne": [5, 20, 30], "nul": [20, 30],
                   "page": [5, 10], "other": 0}


@pytest.mark.parametrize(("call", "message"), [
    ("ctx.db.query('bad name!')", "ValidationError: ctx.db.query: collection: A collection name is 1 to 64"),
    ("ctx.db.query('x', {limit: 5000})", "ValidationError: ctx.db.query: limit: Must be a whole number from 0 to 1000"),
    ("ctx.db.query('x', {where: {'a.b': 1}})", "ValidationError: ctx.db.query: where: A field name is"),
    ("ctx.db.query('x', {where: {a: {$regex: 'x'}}})", "ValidationError: ctx.db.query: where: Unknown operator $regex"),
    ("ctx.db.query('x', {orderBy: 'x; DROP TABLE data_records'})", "ValidationError: ctx.db.query: where: A field"),
    ("ctx.db.insert('x', [1])", "ValidationError: ctx.db.insert: document: A document must be an object."),
    ("ctx.db.insert('x', {_id: 'mine'})", "ValidationError: ctx.db.insert: document: The _id field is set"),
    ("ctx.db.insert('x', {s: 'a\\u0000b'})", "ValidationError: ctx.db.insert: document: Contains a character"),
    ("ctx.db.insert('x')", "TypeError: ctx.db.insert: wrong number of arguments"),
])
def test_db_refusals_are_catchable_errors(db_session, make_tenant, make_user, call, message):
    out = output(make_user, make_tenant(), f"return await {call};")
    assert out["error"].startswith(message)


def test_db_tenants_never_see_each_other(db_session, make_tenant, make_user):
    a, b = make_tenant(), make_tenant()
    record_id = output(make_user, a, "return (await ctx.db.insert('shared', {owner: 'a'}))._id;")
    out = output(make_user, b, """
    return {
      query: await ctx.db.query('shared'), find: await ctx.db.findById('shared', input),
      update: await ctx.db.update('shared', input, {owner: 'b'}), del: await ctx.db.delete('shared', input),
    };""", input=record_id)
    assert out == {"query": [], "find": None, "update": None, "del": False}
    with system_scope():
        record = db_session.scalar(select(DataRecord).where(DataRecord.id == record_id))
        assert record.tenant_id == a.id and record.data == {"owner": "a"}


def test_secrets_get_is_tenant_scoped(db_session, make_tenant, make_user):
    a, b = make_tenant(), make_tenant()
    secrets.put(Actor.of(make_user(role="org_admin", tenant=a)), a.id, "API_KEY", "sk-live-a")
    body = "return [await ctx.secrets.get('API_KEY'), await ctx.secrets.get('NOPE')];"
    assert output(make_user, a, body) == ["sk-live-a", None]
    assert output(make_user, b, body) == [None, None]


def test_secret_values_are_redacted_from_stored_logs_and_errors(db_session, make_tenant, make_user):
    tenant = make_tenant()
    secrets.put(Actor.of(make_user(role="org_admin", tenant=tenant)), tenant.id, "TOKEN", "tok-12345")
    execution = run_script(make_user, tenant, """async function main(input, ctx) {
      const t = await ctx.secrets.get('TOKEN');
      console.log('using', t, 'for', {auth: 'Bearer ' + t});
      throw new Error('failed with ' + t);
    }""")
    assert execution.status == "failed"
    assert execution.logs[0]["message"] == 'using [secret] for {"auth":"Bearer [secret]"}'
    assert execution.error["message"] == "failed with [secret]"
    assert "tok-12345" not in str(execution.error) + str(execution.logs)


def test_secrets_are_managed_by_org_admins_and_audited_without_values(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = Actor.of(make_user(role="org_admin", tenant=tenant))
    developer = Actor.of(make_user(role="developer", tenant=tenant))
    with pytest.raises(PermissionDenied):
        secrets.put(developer, tenant.id, "K", "value-1")
    secrets.put(admin, tenant.id, "K", "value-1")
    secrets.put(admin, tenant.id, "K", "value-2")
    assert [s.name for s in secrets.names(admin, tenant.id)] == ["K"]
    assert secrets.value(tenant.id, "K") == "value-2"
    secrets.delete(admin, tenant.id, "K")
    assert secrets.value(tenant.id, "K") is None
    with system_scope():
        events = db_session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant.id,
                                                             AuditEvent.target_type == "secret")).all()
    assert sorted(e.action for e in events) == ["secret.create", "secret.delete", "secret.update"]
    assert not any("value-" in f"{e.summary} {e.details}" for e in events)


def test_a_run_without_a_tenant_is_told_so(app):
    handler = hostapi.ServiceHandler(app, "db", hostapi.DB_METHODS)
    with pytest.raises(HostError, match="ctx.db needs a tenant"):
        handler(HostCall(tenant_id="", api="db", method="query", args=["x"], deadline=time.monotonic() + 1))


def test_a_method_the_prelude_never_sends_is_refused(app):
    """A runner is not trusted to send only the SDK's method names."""
    handler = hostapi.ServiceHandler(app, "db", hostapi.DB_METHODS)
    with pytest.raises(HostError, match="ctx.db.drop does not exist"):
        handler(HostCall(tenant_id="t", api="db", method="drop", args=["x"], deadline=time.monotonic() + 1))


@pytest.fixture(params=["database", "redis"])
def cache_backend(request, app, monkeypatch):
    """ctx.cache on the app's database, and on Redis when TEST_REDIS_URL answers."""
    if request.param == "database":
        yield None
        return
    url = redis_url_or_skip()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    monkeypatch.setitem(app.config, "REDIS_URL", url)
    yield client
    for key in client.scan_iter("jsr:cache:*"):
        client.delete(key)
    client.close()


def test_cache_round_trip_and_tenant_isolation(db_session, make_tenant, make_user, cache_backend):
    a, b = make_tenant(), make_tenant()
    out = output(make_user, a, """
    const before = await ctx.cache.get('k');
    await ctx.cache.set('k', {n: 1, list: [1, 2]}, 60);
    await ctx.cache.set('k2', 'text');
    const after = await ctx.cache.get('k');
    const replaced = await ctx.cache.set('k', 7) && await ctx.cache.get('k');
    return {before, after, replaced, text: await ctx.cache.get('k2'), del: await ctx.cache.delete('k2'),
            gone: await ctx.cache.get('k2'), again: await ctx.cache.delete('k2')};""")
    assert out == {"before": None, "after": {"n": 1, "list": [1, 2]}, "replaced": 7, "text": "text", "del": True,
                   "gone": None, "again": False}
    other = output(make_user, b, "return [await ctx.cache.get('k'), await ctx.cache.delete('k')];")
    assert other == [None, False]
    assert output(make_user, a, "return await ctx.cache.get('k');") == 7
    if cache_backend is not None:
        assert 0 < cache_backend.ttl(f"jsr:cache:{a.id}:k") <= 3600


def test_an_expired_database_entry_reads_as_missing(db_session, make_tenant, make_user):
    tenant = make_tenant()
    output(make_user, tenant, "await ctx.cache.set('old', 1, 60); await ctx.cache.set('new', 2, 60);")
    with system_scope():
        db_session.execute(sa_update(CacheEntry).where(CacheEntry.key == "old")
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        db_session.commit()
    assert output(make_user, tenant, "return [await ctx.cache.get('old'), await ctx.cache.get('new')];") == [None, 2]
    output(make_user, tenant, "await ctx.cache.set('newer', 3);")
    with system_scope():
        assert sorted(db_session.scalars(select(CacheEntry.key).where(CacheEntry.tenant_id == tenant.id))) == [
            "new", "newer"]


@pytest.mark.parametrize(("call", "message"), [
    ("ctx.cache.set('', 1)", "ValidationError: ctx.cache.set: key: A cache key cannot be empty."),
    ("ctx.cache.set('k', null)", "ValidationError: ctx.cache.set: value: null cannot be cached; use delete."),
    ("ctx.cache.set('k', 1, 0)", "ValidationError: ctx.cache.set: ttlSeconds: Must be a number of seconds"),
    ("ctx.cache.set('k', 'x'.repeat(70000))", "ValidationError: ctx.cache.set: value: A cached value is at most"),
    ("ctx.cache.get('k'.repeat(201))", "ValidationError: ctx.cache.get: key: At most 200 characters."),
])
def test_cache_refusals_are_catchable_errors(db_session, make_tenant, make_user, cache_backend, call, message):
    assert output(make_user, make_tenant(), f"return await {call};")["error"].startswith(message)


def test_an_execution_records_what_it_touched_without_secrets(db_session, make_tenant, make_user):
    tenant = make_tenant()
    secrets.put(Actor.of(make_user(role="org_admin", tenant=tenant)), tenant.id, "KEY", "s3cr3t-value")
    execution = run_script(make_user, tenant, """async function main(input, ctx) {
      await ctx.db.insert('orders', {n: 1});
      await ctx.cache.set('user:42', await ctx.secrets.get('KEY'));
      try { await ctx.db.query('bad name!'); } catch (e) {}
      return 1;
    }""")
    assert execution.status == "completed", execution.error
    calls = [(c["api"], c["method"], c["target"], c["ok"]) for c in execution.outbound_calls]
    assert calls == [("db", "insert", "orders", True), ("secrets", "get", None, True),
                     ("cache", "set", None, True), ("db", "query", "bad name!", False)]
    assert "s3cr3t" not in str(execution.outbound_calls) and "user:42" not in str(execution.outbound_calls)


def test_outbound_rate_counts_per_tenant():
    admit = hostapi.outbound_rate("2 per minute", None)
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    assert [admit(tenant) for _ in range(3)] == [True, True, False]
    assert admit(other) is True


def test_outbound_rate_is_shared_across_processes_through_redis():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("TEST_REDIS_URL is not set")
    tenant = str(uuid.uuid4())
    one, two = hostapi.outbound_rate("3 per minute", url), hostapi.outbound_rate("3 per minute", url)
    client = redis.Redis.from_url(url)
    try:
        assert [one(tenant), two(tenant), one(tenant), two(tenant)] == [True, True, True, False]
    finally:
        for key in client.scan_iter(f"*jsr-http-out*{tenant}*"):
            client.delete(key)
        client.close()


def test_the_portal_serves_crypto_subtle(db_session, make_tenant, make_user):
    out = output(make_user, make_tenant(), """
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');""")
    assert out == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
