"""The audit log page of org admins: filters, before → after per entry, CSV export."""

from portal.web.audit.routes import bp

__all__ = ["bp"]
