"""The database models, one module per aggregate; importing this package registers every table."""

from portal.models.audit import AuditEvent
from portal.models.cache import CacheEntry
from portal.models.data import DataRecord
from portal.models.event import Event
from portal.models.execution import DEAD_LETTER_STATUSES, EXECUTION_STATUSES, TRIGGERS, DeadLetter, Execution
from portal.models.library import Library, LibraryVersion
from portal.models.script import HTTP_AUTH_MODES, SCRIPT_STATUSES, SCRIPT_TYPES, Script, ScriptVersion
from portal.models.secret import Secret
from portal.models.tenant import ImmutableError, Organization, Tenant
from portal.models.user import ROLES, ApiToken, User

__all__ = [
    "DEAD_LETTER_STATUSES", "EXECUTION_STATUSES", "HTTP_AUTH_MODES", "ROLES", "SCRIPT_STATUSES", "SCRIPT_TYPES",
    "TRIGGERS",
    "ApiToken", "AuditEvent", "CacheEntry", "DataRecord", "DeadLetter", "Event", "Execution", "ImmutableError",
    "Library", "LibraryVersion", "Organization",
    "Script", "ScriptVersion", "Secret", "Tenant", "User",
]
