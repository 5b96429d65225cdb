"""RudderStack transformations over the API: a saved script's source, or unsaved code (nothing stored).

The rules live in runtime/transform.py; here the tenant's limits, secrets and permissions apply.
"""

import re
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.extensions import db
from portal.models import Tenant
from portal.services import libraries, rbac, scripts, secrets
from portal.services import runtime as runtime_service
from portal.services.errors import ValidationError
from portal.services.inputs import json_error, text_error
from portal.services.rbac import Actor
from portal.services.scope import in_tenant
from runtime import transform
from runtime.limits import MB
from runtime.modules import may_be_module

# A declaration of RudderStack's handlers (`function transformEvent`, `const transformBatch =`, exported or not).
_TRANSFORM_HANDLER = re.compile(r"\b(?:function\s*\*?\s*|(?:const|let|var)\s+)(?:transformEvent|transformBatch)\b")


def is_transformation(source: Any) -> bool:
    """Whether `source` is a RudderStack transformation: it defines transformEvent or transformBatch."""
    return isinstance(source, str) and _TRANSFORM_HANDLER.search(source) is not None


def _events(events: Any) -> list[dict[str, Any]]:
    if (message := json_error(events)) is not None:
        raise ValidationError({"events": message})
    try:
        return transform.check_events(events)
    except transform.TransformInputError as exc:
        raise ValidationError({"events": _l("Not RudderStack's request list: %(problem)s", problem=str(exc))}) \
            from None


def _run(actor: Actor, tenant_id: str, source: str, events: Any, test: Any, script_id: str | None) -> dict:
    if not isinstance(test, bool):
        raise ValidationError({"test": _l("Must be true or false.")})
    events = _events(events)
    tenant = db.session.get(Tenant, tenant_id)
    limits = transform.LIMITS.with_overrides(
        timeout_ms=min(transform.LIMITS.timeout_ms, tenant.max_timeout_ms),
        memory_bytes=min(transform.LIMITS.memory_bytes, tenant.max_memory_mb * MB),
        host_calls=min(transform.LIMITS.host_calls, tenant.max_host_calls),
        source_bytes=current_app.config["JSR_SOURCE_BYTES"])
    context = {"userId": actor.user_id, "scriptId": script_id}
    request = transform.request_for(source, tenant_id, events, test_mode=test, limits=limits, context=context,
                                    credentials=secrets.credentials(tenant_id),
                                    modules=libraries.modules_for(tenant_id) if may_be_module(source) else None)
    result = runtime_service.run(request, tenant_limit=tenant.max_concurrency)
    return transform.response_from(events, result)


@in_tenant
def run_code(actor: Actor, tenant_id: str, code: Any, events: Any, test: Any = True) -> dict[str, Any]:
    """Unsaved code over `events` (the editor's test of a transformation); nothing is stored."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    if (message := text_error(code, current_app.config["JSR_SOURCE_BYTES"])) is not None or not code:
        raise ValidationError({"code": message or _l("The script has no source.")})
    return _run(actor, tenant_id, code, events, test, None)


@in_tenant
def run_script(actor: Actor, tenant_id: str, script_id: str, events: Any, test: Any = False) -> dict[str, Any]:
    """A saved script's current version over `events`."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    script = scripts.get(actor, tenant_id, script_id)
    return _run(actor, tenant_id, script.source, events, test, script.id)
