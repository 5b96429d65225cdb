"""Per-process caches derived from scripts and tenants (webhook routes, event subscriptions).

An entry lives JSR_HOOK_CACHE_S seconds, so other processes' changes are seen within that bound; every
cache is dropped in this process as soon as a script or tenant is committed here.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from portal.models import Script, Tenant

EXTENSION_KEY = "jsr.script_caches"  # app.extensions: cache name -> {key: (monotonic expiry, value)}
CHANGED = "jsr_scripts_changed"  # session.info flag: a script or tenant was written
_lock = threading.Lock()


def cached(name: str, key: Any, load: Callable[[], Any]) -> Any:
    """The value of `key` in cache `name`, loaded with `load()` when missing or older than the bound."""
    caches = current_app.extensions.setdefault(EXTENSION_KEY, {})
    now = time.monotonic()
    with _lock:
        entry = caches.setdefault(name, {}).get(key)
    if entry is None or entry[0] <= now:
        entry = (now + current_app.config["JSR_HOOK_CACHE_S"], load())
        with _lock:
            caches.setdefault(name, {})[key] = entry
    return entry[1]


def invalidate() -> None:
    with _lock:
        current_app.extensions.get(EXTENSION_KEY, {}).clear()


def _changed(_mapper, _connection, target) -> None:
    session = object_session(target)
    if session is not None:
        session.info[CHANGED] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(CHANGED, False) and has_app_context():
        invalidate()


for _model in (Script, Tenant):
    for _name in ("after_insert", "after_update", "after_delete"):
        event.listen(_model, _name, _changed)
event.listen(Session, "after_commit", _after_commit)
