"""The portal's dead-letter queue pages."""

from portal.web.dead_letters.routes import bp

__all__ = ["bp"]
