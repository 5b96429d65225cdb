from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from portal.services import accounts
from portal.web.auth.forms import LoginForm

bp = Blueprint("auth", __name__)
LANGUAGES = ("en", "ru", "uz")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
        if accounts.is_locked(form.email.data):
            flash(_l("Too many failed attempts. Try again in 15 minutes."), "error")
        else:
            flash(_l("Wrong e-mail or password."), "error")
    return render_template("auth/login.html", form=form), 200 if request.method == "GET" else 401


@bp.post("/logout")
@login_required
def logout():
    logout_user()
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
    """Only same-site relative paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None
