"""Flask-Login wiring: users are loaded through the accounts service, in system scope.

A session's user id carries the user's session version (`User.get_id`), so logout, a role change
or a deactivation ends every session at once; a session also ends JSR_SESSION_HOURS after sign-in,
however active it stays.
"""

import time

from flask import Flask, current_app, session
from flask_login import login_user, logout_user

from portal.extensions import login
from portal.services import accounts

SIGNED_IN_AT = "jsr_signed_in_at"


def start(user) -> None:
    """Sign `user` in and note when, for the absolute lifetime."""
    login_user(user)
    session[SIGNED_IN_AT] = time.time()


def end(user) -> None:
    """Sign out: this session and every other session of the user."""
    accounts.end_sessions(user.id)
    logout_user()
    session.clear()


def init_app(app: Flask) -> None:
    login.login_view = "auth.login"

    @login.user_loader
    def load_user(session_id: str):
        started = session.get(SIGNED_IN_AT)
        lifetime = current_app.config["JSR_SESSION_HOURS"] * 3600
        if not isinstance(started, int | float) or time.time() - started > lifetime:
            return None
        return accounts.session_user(session_id)
