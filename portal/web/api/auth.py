"""Who is calling the API: a bearer token, or the logged-in session (which must send its CSRF token)."""

from flask import g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.extensions import csrf
from portal.services import accounts
from portal.services.errors import NotFound, ServiceError
from portal.services.rbac import Actor, Role


class Unauthorized(ServiceError):
    status = 401
    headers = {"WWW-Authenticate": 'Bearer realm="api"'}

    def __init__(self):
        super().__init__(_l("Authentication required: send 'Authorization: Bearer <token>'."))


def authenticate() -> None:
    """Resolve g.actor and g.tenant_id for this request, or raise."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":  # auth schemes are case-insensitive (RFC 9110)
        actor = accounts.actor_for_token(credentials.strip())
        if actor is None:
            raise Unauthorized()
    elif scheme:
        raise Unauthorized()
    elif current_user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        actor = Actor.of(current_user)
    else:
        raise Unauthorized()
    g.actor = actor
    g.tenant_id = _tenant_for(actor)


def _tenant_for(actor: Actor) -> str:
    """Members act in their own tenant; a superadmin names one with ?tenant=<slug> or X-Tenant."""
    slug = request.args.get("tenant") or request.headers.get("X-Tenant")
    if actor.role is Role.SUPERADMIN:
        if not slug:
            raise NotFound(_l("Unknown tenant."))
        return accounts.tenant_by_slug(slug).id
    if slug and accounts.tenant_by_slug(slug).id != actor.tenant_id:
        raise NotFound(_l("Unknown tenant."))
    return actor.tenant_id
