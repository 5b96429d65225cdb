"""The portal's scripts pages."""

from portal.web.scripts.routes import bp

__all__ = ["bp"]
