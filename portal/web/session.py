"""Flask-Login wiring: users are loaded through the accounts service, in system scope."""

from flask import Flask
from flask_babel import lazy_gettext as _l

from portal.extensions import login
from portal.services import accounts
from portal.services.rbac import Role

ROLE_LABELS = {Role.SUPERADMIN: _l("Superadmin"), Role.ORG_ADMIN: _l("Org admin"), Role.DEVELOPER: _l("Developer"),
               Role.VIEWER: _l("Viewer")}


def init_app(app: Flask) -> None:
    login.login_view = "auth.login"

    @login.user_loader
    def load_user(user_id: str):
        return accounts.active_user(user_id)

    @app.context_processor
    def helpers():
        return {"role_label": lambda role: ROLE_LABELS.get(role, role)}
