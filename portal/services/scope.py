"""Decorators that run a service function inside the tenancy scope it acts for.

Services filter every query by tenant themselves; on PostgreSQL the scope also drives
row-level security (portal/tenancy.py), which fails closed outside any scope.
"""

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

from portal import tenancy

F = TypeVar("F", bound=Callable)


def in_tenant(func: F) -> F:
    """Run `func` in the scope of its `tenant_id` argument (system scope when it is None)."""
    signature = inspect.signature(func)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        tenant_id = signature.bind(*args, **kwargs).arguments.get("tenant_id")
        with tenancy.tenant_scope(tenant_id) if tenant_id else tenancy.system_scope():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def in_system(func: F) -> F:
    """Run `func` in system scope: platform-level work (log-in, token lookup, workers, CLI)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with tenancy.system_scope():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
