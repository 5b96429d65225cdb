"""The Huey instance, unbound at import and bound to real storage by `configure(app)`.

HUEY_URL picks the storage: `sqlite:///path` (embedded default) or `redis://host:port/db`
(production: any number of consumer processes on any number of machines).
"""

from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from huey import Huey
from huey.storage import BlackHoleStorage, RedisStorage, SqliteStorage

huey = Huey("jsr", storage_class=BlackHoleStorage)
_state: dict[str, Flask] = {}


def storage_for(url: str, name: str = "jsr"):
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        return SqliteStorage(name=name, filename=url.removeprefix("sqlite:///"))
    if scheme in ("redis", "rediss"):
        return RedisStorage(name=name, url=url)
    raise ValueError(f"HUEY_URL must be sqlite:///… or redis://…, not {url!r}")


def configure(app: Flask) -> None:
    """Bind the queue to the app's storage (or run tasks inline when HUEY_IMMEDIATE is set)."""
    _state["app"] = app
    huey.immediate = bool(app.config.get("HUEY_IMMEDIATE", False))
    if not huey.immediate:
        huey.storage = storage_for(app.config["HUEY_URL"])


def app() -> Flask:
    """The app tasks run under: the caller's in immediate mode, else the one the worker configured."""
    if has_app_context():
        return current_app._get_current_object()
    return _state["app"]
