"""Tenant libraries: list with what imports each, editor (Monaco, the script workspace's components), versions
and diff. Saving goes through the JSON API (`/api/v1/libraries`, session + CSRF header) from the editor's
JavaScript, as the script editor does, so the portal and the API validate and version alike."""

from flask import Blueprint, flash, jsonify, url_for
from flask_babel import lazy_gettext as _l

from portal.services import accounts, libraries, rbac
from portal.services.queries import MAX_PAGE
from portal.web.pages import acting, int_arg, json_body, markers, navigate, page, render

bp = Blueprint("libraries", __name__, url_prefix="/libraries")


@bp.get("")
@page(rbac.SCRIPTS_READ)
def index():
    who = acting()
    found = libraries.list_libraries(who.actor, who.tenant_id, limit=MAX_PAGE)
    return render("libraries/list.html", libraries=found, can_create=who.can(rbac.SCRIPTS_CREATE),
                  used_by=libraries.used_by(who.actor, who.tenant_id, [library.name for library in found]))


@bp.get("/new")
@page(rbac.SCRIPTS_CREATE)
def new():
    return render("libraries/editor.html", library=None, writable=True, can_delete=False, importers=None)


@bp.get("/<library_id>")
@page(rbac.SCRIPTS_READ)
def edit(library_id: str):
    who = acting()
    library = libraries.get(who.actor, who.tenant_id, library_id)
    return render("libraries/editor.html", library=library, writable=who.can(rbac.SCRIPTS_UPDATE),
                  can_delete=who.can(rbac.SCRIPTS_DELETE),
                  importers=libraries.used_by(who.actor, who.tenant_id, [library.name])[library.name])


@bp.post("/check")
@page(rbac.SCRIPTS_READ)
def check():
    """Server validation as the editor's markers: [{line, column, message}] (the service needs create or update)."""
    who = acting()
    data = json_body()
    errors = libraries.check(who.actor, who.tenant_id, data.get("name"), data.get("source"),
                             data.get("library_id") or None)
    return jsonify({"markers": markers(errors)})


@bp.get("/<library_id>/versions")
@page(rbac.SCRIPTS_READ)
def versions(library_id: str):
    who = acting()
    library = libraries.get(who.actor, who.tenant_id, library_id)
    found = libraries.versions(who.actor, who.tenant_id, library_id, limit=200)
    authors = accounts.user_names(who.actor, who.tenant_id, [v.author_id for v in found])
    return render("libraries/versions.html", library=library, versions=found, authors=authors)


@bp.get("/<library_id>/diff")
@page(rbac.SCRIPTS_READ)
def diff(library_id: str):
    """Monaco's diff editor between two versions (by default the previous and the current one)."""
    who = acting()
    library = libraries.get(who.actor, who.tenant_id, library_id)
    right = int_arg("b", library.current_version, 1)
    left = int_arg("a", max(1, right - 1), 1)
    return render("libraries/diff.html", library=library,
                  left=libraries.version(who.actor, who.tenant_id, library_id, left),
                  right=libraries.version(who.actor, who.tenant_id, library_id, right))


@bp.post("/<library_id>/delete")
@page(rbac.SCRIPTS_DELETE)
def delete(library_id: str):
    who = acting()
    libraries.delete(who.actor, who.tenant_id, library_id)
    flash(_l("The library was deleted."), "info")
    return navigate(url_for("libraries.index"))
