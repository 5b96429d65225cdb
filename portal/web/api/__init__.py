"""JSON API /api/v1: bearer tokens (or the session, with a CSRF header)."""

from portal.web.api.routes import bp

__all__ = ["bp"]
