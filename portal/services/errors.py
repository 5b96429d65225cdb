"""Errors the services raise: values a user can act on, with translated messages."""

from typing import Any

from flask_babel import lazy_gettext as _l


class ServiceError(Exception):
    """Base: `status` is the HTTP status a view should answer with."""

    status = 400

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
