"""The portal's libraries pages."""

from portal.web.libraries.routes import bp

__all__ = ["bp"]
