"""The signed-in user's own account: language and time zone, and a new password given the current one."""

from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from portal.services import accounts
from portal.services.errors import ValidationError
from portal.web import session as sessions
from portal.web.pages import acting, render

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(status: int = 200, **context):
    context.setdefault("errors", {})
    # What applies now: the user's own choice, else the tenant's default (else the browser's language, UTC).
    context.setdefault("values", {"language": str(get_locale()), "timezone": str(get_timezone())})
    return render("account/index.html", zones=sorted(available_timezones()), languages=accounts.LANGUAGES,
                  **context), status


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("/preferences")
@login_required
def preferences():
    form = request.form
    try:
        accounts.set_preferences(acting().actor, language=form.get("language", ""), timezone=form.get("timezone", ""))
    except ValidationError as exc:
        return _page(exc.status, values=form.to_dict(), errors=exc.errors)
    session["lang"] = form["language"]
    flash(_l("Preferences saved."), "info")
    return redirect(url_for("account.index"))


@bp.post("/password")
@login_required
def password():
    """A new password ends every session of the user (other browsers included); this one starts afresh."""
    form = request.form
    if form.get("new_password", "") != form.get("confirm_password", ""):
        return _page(422, errors={"confirm_password": str(_l("The two new passwords differ."))})
    try:
        user = accounts.change_password(acting().actor, form.get("current_password", ""),
                                        form.get("new_password", ""))
    except ValidationError as exc:
        return _page(exc.status, errors=exc.errors)
    sessions.start(user)
    flash(_l("Your password was changed; other sessions were signed out."), "info")
    return redirect(url_for("account.index"))
