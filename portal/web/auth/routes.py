import re
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, logout_user

from portal.extensions import limiter
from portal.services import accounts, tenants
from portal.services.accounts import LANGUAGES
from portal.services.errors import ValidationError
from portal.web import session as sessions
from portal.web.auth.forms import LoginForm
from portal.web.pages import ACTING_TENANT, acting

bp = Blueprint("auth", __name__)
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _login_rate() -> str:
    return current_app.config["JSR_LOGIN_RATE"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])  # per client address, whatever the account
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data, ip=request.remote_addr)
        if user is not None:
            sessions.start(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.index"))
        # One answer for unknown, wrong and locked accounts: it tells an attacker nothing.
        flash(_l("Wrong e-mail or password, or the account is locked after too many failed attempts "
                 "(for 15 minutes)."), "error")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout():
    sessions.end(current_user)
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["GET", "POST"])
def set_language(code: str):
    """Switch the language for this session; a signed-in user's menu POSTs (CSRF-checked), which also
    keeps the choice on their account."""
    if code in LANGUAGES:
        session["lang"] = code
        if request.method == "POST" and current_user.is_authenticated:
            accounts.set_preferences(acting().actor, language=code)
    return redirect(_safe_next(_same_site_path(request.referrer)) or url_for("auth.login"))


@bp.route("/welcome/<secret>", methods=["GET", "POST"])
def signin_link(secret: str):
    """An invitation's one-time link: the invited member chooses a password and is signed in. The link then
    stops working; an unknown, used or expired one answers 404 with what to do."""
    user = accounts.signin_link_user(secret)
    errors = {}
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("confirm_password", ""):
            errors["confirm_password"] = str(_l("The two passwords differ."))
        else:
            try:
                user = accounts.redeem_signin_link(secret, password)
            except ValidationError as exc:
                errors = exc.errors
            else:
                if current_user.is_authenticated:
                    logout_user()
                session.clear()
                sessions.start(user)
                flash(_l("Welcome! Your password is set."), "info")
                return redirect(url_for("dashboard.index"))
    return render_template("auth/signin_link.html", user=user, errors=errors), 422 if errors else 200


@bp.post("/tenant")
@login_required
def choose_tenant():
    """A superadmin acts as a tenant, or with an empty choice stops acting (members always see their own).
    Both are written to the tenant's audit trail."""
    who = acting()
    if who.actor.tenant_id is not None:
        return redirect(url_for("dashboard.index"))
    chosen = accounts.tenant_by_slug(request.form["tenant"]) if request.form.get("tenant") else None
    if who.tenant is not None:
        tenants.record_acting(who.actor, who.tenant, started=False)
    session.pop(ACTING_TENANT, None)
    if chosen is None:
        return redirect(url_for("tenants.index"))
    tenants.record_acting(who.actor, chosen, started=True)
    session[ACTING_TENANT] = chosen.slug
    return redirect(url_for("dashboard.index"))


def _same_site_path(url: str | None) -> str | None:
    """The path and query of a URL on this very host (browsers send full referrer URLs), else None."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


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

