"""The portal's dashboard pages."""

from portal.web.dashboard.routes import bp

__all__ = ["bp"]
