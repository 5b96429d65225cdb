"""Superadmins' page: every tenant with its usage; create, deactivate, act as one."""

from portal.web.tenants.routes import bp

__all__ = ["bp"]
