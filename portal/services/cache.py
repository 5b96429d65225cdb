"""A script's `ctx.cache`: tenant-scoped JSON values with a time to live.

Redis when REDIS_URL is set (shared by every process; keys `jsr:cache:<tenant id>:<key>`),
the app database otherwise (cache_entries, under row-level security on PostgreSQL). The
tenant always comes from the run. Expired database entries read as missing and are swept
when the tenant next writes.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.extensions import db
from portal.models import CacheEntry
from portal.services.errors import ValidationError
from portal.services.inputs import json_error, text_error
from portal.services.scope import in_tenant

MAX_KEY_CHARS = 200
MAX_VALUE_BYTES = 64 * 1024
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 30 * 24 * 3600
_CLIENTS = "jsr.cache.redis"


def _key(key: Any) -> str:
    if (message := text_error(key, MAX_KEY_CHARS)) is not None or not key:
        raise ValidationError({"key": message or _l("A cache key cannot be empty.")})
    return key


def _ttl(ttl: Any) -> int:
    if ttl is None:
        return DEFAULT_TTL_SECONDS
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise ValidationError({"ttlSeconds": _l("Must be a number of seconds from 1 to %(maximum)s.",
                                                maximum=MAX_TTL_SECONDS)})
    return int(ttl)


def _encoded(value: Any) -> str:
    if value is None:
        raise ValidationError({"value": _l("null cannot be cached; use delete.")})
    if (message := json_error(value)) is not None:
        raise ValidationError({"value": message})
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise ValidationError({"value": _l("A cached value is at most %(limit)s bytes of JSON.",
                                           limit=MAX_VALUE_BYTES)})
    return text


def redis_client() -> redis.Redis | None:
    """The process's client of REDIS_URL, or None without Redis."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    clients = current_app.extensions.setdefault(_CLIENTS, {})
    if url not in clients:
        clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return clients[url]


def _redis_key(tenant_id: str, key: str) -> str:
    return f"jsr:cache:{tenant_id}:{key}"


@in_tenant
def get(tenant_id: str, key: Any) -> Any:
    """The cached value, or None when missing or expired."""
    key = _key(key)
    if (client := redis_client()) is not None:
        raw = client.get(_redis_key(tenant_id, key))
        return None if raw is None else json.loads(raw)
    entry = db.session.scalar(select(CacheEntry).where(CacheEntry.tenant_id == tenant_id, CacheEntry.key == key,
                                                       CacheEntry.expires_at > datetime.now(UTC)))
    return None if entry is None else entry.value


@in_tenant
def store(tenant_id: str, key: Any, value: Any, ttl_seconds: Any = None) -> bool:
    """`ctx.cache.set`: keep `value` under `key` for `ttl_seconds` (an hour by default)."""
    key, text, ttl = _key(key), _encoded(value), _ttl(ttl_seconds)
    if (client := redis_client()) is not None:
        client.set(_redis_key(tenant_id, key), text, ex=ttl)
        return True
    now = datetime.now(UTC)
    db.session.execute(sql_delete(CacheEntry).where(CacheEntry.tenant_id == tenant_id, CacheEntry.expires_at <= now))
    dialect_insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    row = {"tenant_id": tenant_id, "key": key, "value": json.loads(text), "expires_at": now + timedelta(seconds=ttl)}
    statement = dialect_insert(CacheEntry).values(**row)
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[CacheEntry.tenant_id, CacheEntry.key],
        set_={"value": statement.excluded.value, "expires_at": statement.excluded.expires_at}))
    db.session.commit()
    return True


@in_tenant
def delete(tenant_id: str, key: Any) -> bool:
    """True when the key was cached."""
    key = _key(key)
    if (client := redis_client()) is not None:
        return bool(client.delete(_redis_key(tenant_id, key)))
    deleted = db.session.execute(sql_delete(CacheEntry).where(
        CacheEntry.tenant_id == tenant_id, CacheEntry.key == key, CacheEntry.expires_at > datetime.now(UTC)))
    db.session.commit()
    return deleted.rowcount == 1
