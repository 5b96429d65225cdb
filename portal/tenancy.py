"""Which tenant the current unit of work acts for, bound to every database transaction.

The service layer filters every query by tenant (the first line of defence, on every
backend). On PostgreSQL the scope is also handed to the database at the start of each
transaction of `db.session`: the session switches to the non-owner role JSR_DB_APP_ROLE
and sets `app.tenant_id` / `app.system`, and the row-level security policies of the
migrations admit only that tenant's rows (the second line). On SQLite there is no second
line: these settings are skipped.

No scope means no tenant and no system access: on PostgreSQL such a transaction sees no
tenant-owned row at all (fail closed). Callers therefore enter a scope at their boundary:
a request for a tenant member enters `tenant_scope(actor.tenant_id)`; log-in, public hook
lookup by slug, superadmin pages, the CLI and scheduler scans enter `system_scope()`.

The scope lives in a ContextVar, so threads and asyncio tasks do not share it, and it is
re-applied to a transaction already open when a scope is entered or left.
Only `db.session` is covered: a connection taken from the engine directly runs as the
login role (the owner) and bypasses row-level security. Nor is the session's identity map
filtered: an object loaded in a wider scope stays reachable through `session.get()`.
"""

import re
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from portal.extensions import db

EXTENSION_KEY = "jsr.tenancy"
APPLIED_KEY = "jsr_applied_scope"  # connection.info: the (role, scope) the open transaction has


@dataclass(frozen=True)
class Scope:
    tenant_id: str | None = None
    system: bool = False


NO_SCOPE = Scope()
_scope: ContextVar[Scope] = ContextVar("jsr_tenant_scope", default=NO_SCOPE)


def current_scope() -> Scope:
    return _scope.get()


def current_tenant() -> str | None:
    """The tenant id of the current scope; None in system scope or outside any scope."""
    return _scope.get().tenant_id


def is_system() -> bool:
    return _scope.get().system


class _ScopeContext:
    """Context manager that sets a scope and restores the previous one on exit."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._token: Token[Scope] | None = None

    def __enter__(self) -> Scope:
        self._token = _scope.set(self.scope)
        _rebind_open_transaction(failing=False)
        return self.scope

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _scope.reset(self._token)
        # An exception already on its way out wins over a failure to re-apply the outer scope.
        _rebind_open_transaction(failing=exc is not None)


def tenant_scope(tenant_id: str) -> _ScopeContext:
    """`with tenant_scope(tenant.id): ...` — database work on behalf of one tenant."""
    if not tenant_id or not isinstance(tenant_id, str):
        raise ValueError("tenant_scope needs a tenant id; use system_scope() for platform-level work")
    return _ScopeContext(Scope(tenant_id=tenant_id))


def system_scope() -> _ScopeContext:
    """`with system_scope(): ...` — platform-level work that may see every tenant."""
    return _ScopeContext(Scope(system=True))


def activate(scope: Scope) -> Token[Scope]:
    """Set `scope` until deactivate(token): for request hooks, where a `with` block cannot span."""
    token = _scope.set(scope)
    _rebind_open_transaction(failing=False)
    return token


def deactivate(token: Token[Scope]) -> None:
    _scope.reset(token)
    _rebind_open_transaction(failing=False)


def init_app(app: Flask) -> None:
    """Bind the scope to each PostgreSQL transaction of `db.session` for this app."""
    app.extensions[EXTENSION_KEY] = {"role": app.config["JSR_DB_APP_ROLE"]}
    # One listener serves every app: it looks up the current app's settings, so apps
    # that never called init_app (or use SQLite) are left alone.
    if not event.contains(db.session, "after_begin", _after_begin):
        event.listen(db.session, "after_begin", _after_begin)


def role_identifier() -> str:
    """The configured app role, restricted to a plain identifier so that migrations can write it into SQL."""
    name = current_app.config.get("JSR_DB_APP_ROLE", "jsr_app") if has_app_context() else "jsr_app"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"JSR_DB_APP_ROLE must be a lowercase SQL identifier, not {name!r}")
    return name


def _after_begin(_session: Session, _transaction, connection: Connection) -> None:
    role = _app_role()
    if role is not None and connection.dialect.name == "postgresql":
        connection.info.pop(APPLIED_KEY, None)  # a new transaction starts without the settings
        _apply(connection, role, _scope.get())


def _app_role() -> str | None:
    if not has_app_context():
        return None
    settings = current_app.extensions.get(EXTENSION_KEY)
    return settings["role"] if settings else None


def _apply(connection: Connection, role: str, scope: Scope) -> None:
    """Transaction-local settings in one round trip; set_config('role', ..., true) is SET LOCAL ROLE.
    Skipped when the transaction already has them (a service entering the scope it is already in)."""
    if connection.info.get(APPLIED_KEY) == (role, scope) and connection.in_transaction():
        return
    connection.info[APPLIED_KEY] = (role, scope)
    connection.execute(
        text("SELECT set_config('role', :role, true), set_config('app.tenant_id', :tenant, true),"
             " set_config('app.system', :system, true)"),
        {"role": role, "tenant": scope.tenant_id or "", "system": "on" if scope.system else "off"},
    )


def _rebind_open_transaction(*, failing: bool) -> None:
    """Re-apply the current scope to db.session's open transaction, if it has one on PostgreSQL."""
    role = _app_role()
    if role is None:
        return
    session = db.session()
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active:
        return  # the next transaction starts with the right scope; a failed one must roll back first
    if session.get_bind().dialect.name != "postgresql":
        return
    try:
        _apply(session.connection(), role, _scope.get())
    except DBAPIError:
        # The transaction is aborted in the database; rolling back guarantees the scope just
        # left cannot outlive this block.
        session.rollback()
        if not failing:
            raise
