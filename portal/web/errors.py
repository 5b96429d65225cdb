"""Errors answered as JSON or HTML by content negotiation; internals go to the log with an incident id."""

import logging
import uuid

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from portal.extensions import db
from portal.services.errors import ServiceError

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith(("/api/", "/hooks/")) or best == "application/json"


def _answer(status: int, message, extra: dict | None = None):
    if _wants_json():
        return jsonify({"error": str(message), **(extra or {})}), status
    return render_template("error.html", status=status, message=message, extra=extra or {}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        db.session.rollback()
        data = exc.to_dict()
        body, status = _answer(exc.status, data.pop("error"), data)
        return current_app.make_response((body, status, exc.headers))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {404: _l("Page not found."), 405: _l("This method is not allowed here."),
                    400: _l("The request could not be understood."),
                    429: _l("Too many requests; wait a moment and try again."),
                    413: _l("The request body is larger than %(limit)s bytes.",
                            limit=current_app.config["MAX_CONTENT_LENGTH"])}
        body, status = _answer(exc.code or 500, messages.get(exc.code, exc.description or exc.name))
        response = current_app.make_response((body, status))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        if isinstance(exc, RateLimitExceeded):  # the limit's whole window: when it is sure to have room again
            response.headers["Retry-After"] = str(exc.limit.limit.get_expiry())
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error (incident %s)", incident)
        return _answer(500, _l("Something went wrong on our side (incident %(id)s).", id=incident),
                       {"incident": incident})
