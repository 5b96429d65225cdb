import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from portal.extensions import limiter
from portal.services import accounts
from portal.web import session as sessions
from portal.web.auth.forms import LoginForm

bp = Blueprint("auth", __name__)
LANGUAGES = ("en", "ru", "uz")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _login_rate() -> str:
    return current_app.config["JSR_LOGIN_RATE"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])  # per client address, whatever the account
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data, ip=request.remote_addr)
        if user is not None:
            sessions.start(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
        # One answer for unknown, wrong and locked accounts: it tells an attacker nothing.
        flash(_l("Wrong e-mail or password, or the account is locked after too many failed attempts "
                 "(for 15 minutes)."), "error")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout():
    sessions.end(current_user)
    return redirect(url_for("auth.login"))


@bp.get("/")
@login_required
def home():
    return render_template("auth/home.html")


@bp.get("/lang/<code>")
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.referrer) or url_for("auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect. Control characters and whitespace go first
    (browsers drop them, so `/<tab>/evil.example/` would become `//evil.example/`), then the target must
    parse to a bare path that no browser reads as another host."""
    if not target:
        return None
    target = _CONTROL.sub("", target)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target

