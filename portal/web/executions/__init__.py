"""The portal's executions pages."""

from portal.web.executions.routes import bp

__all__ = ["bp"]
