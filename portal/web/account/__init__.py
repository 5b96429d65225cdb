"""Every user's own account: password, language, time zone."""

from portal.web.account.routes import bp

__all__ = ["bp"]
