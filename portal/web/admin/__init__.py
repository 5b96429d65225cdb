"""Org admins' pages: users and invitations, API tokens, secrets, tenant settings."""

from portal.web.admin.routes import bp

__all__ = ["bp"]
