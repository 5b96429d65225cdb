"""Errors the services raise: values a user can act on, with translated messages."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db


class ServiceError(Exception):
    """Base: `status` is the HTTP status a view should answer with."""

    status = 400
    headers: dict[str, str] = {}  # extra response headers (WWW-Authenticate, Retry-After)

    def __init__(self, message: Any = None, *, field: str | None = None, details: dict | None = None):
        self.message = message or _l("The request could not be completed.")
        self.field = field
        self.details = details or {}
        super().__init__(str(self.message))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": str(self.message)}
        if self.field:
            data["field"] = self.field
        data.update({key: value for key, value in self.details.items() if value is not None})
        return data


class ValidationError(ServiceError):
    """One or more fields are invalid; `errors` maps each field to its message."""

    status = 422

    def __init__(self, errors: dict[str, Any], details: dict | None = None):
        self.errors = {field: str(message) for field, message in errors.items()}
        super().__init__(_l("Some fields are invalid."), details=details)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["fields"] = self.errors
        return data


class NotFound(ServiceError):
    status = 404

    def __init__(self, message: Any = None):
        super().__init__(message or _l("Not found."))


class PermissionDenied(ServiceError):
    status = 403

    def __init__(self, message: Any = None):
        super().__init__(message or _l("You do not have permission to do this."))


class Conflict(ServiceError):
    status = 409


class UnsupportedMediaType(ServiceError):
    status = 415

    def __init__(self):
        super().__init__(_l("Send the request body as JSON (Content-Type: application/json)."))


class TooManyRequests(ServiceError):
    status = 429

    def __init__(self, message: Any, *, retry_after: int):
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


@contextmanager
def refused_writes(message: Any, *, fields: tuple[str, ...] = (), exists: Callable[[], bool] | None = None,
                   gone: Any = None) -> Iterator[None]:
    """A write that raced another request and was refused by the database becomes a 409 Conflict
    (or a 404 with `gone` when `exists()` says its target was deleted meanwhile), never a 500.
    The conflict names the first of `fields` that the database's message names.

    Refusals are unique and foreign-key violations, an UPDATE that found its row deleted, and lock
    conflicts (SQLite's "database is locked", PostgreSQL's deadlock and serialization failures).
    """
    try:
        yield
    except (IntegrityError, StaleDataError, OperationalError) as exc:
        db.session.rollback()
        if isinstance(exc, OperationalError) and not _lock_conflict(exc):
            raise
        if exists is not None and not exists():
            raise NotFound(gone) from exc
        named = [field for field in fields if field in str(exc.orig)]
        raise Conflict(message, field=named[0] if named else None) from exc


def _lock_conflict(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in ("40001", "40P01") or "database is locked" in str(exc.orig)
