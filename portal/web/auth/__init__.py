"""Session login and logout (CSRF-protected form), language choice."""

from portal.web.auth.routes import bp

__all__ = ["bp"]
