"""Tenant libraries: versioned ES modules the tenant's scripts import by name; every change audited.

A library is checked when saved the way a script is, linked against the tenant's other
libraries: its own imports must resolve, without cycles, to exports that exist. Scripts and
transformations get the current version of every library of their tenant (`modules_for`).
"""

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from portal.extensions import db
from portal.models import Library, LibraryVersion, Script
from portal.services import audit, rbac
from portal.services import scripts as script_service  # scripts imports this module too: used at call time
from portal.services.errors import NotFound, ValidationError, refused_writes
from portal.services.inputs import require_number, text_error
from portal.services.queries import page, tenant_row
from portal.services.rbac import Actor
from portal.services.scope import in_tenant
from runtime.modules import rewrite
from runtime.packages import PACKAGES

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_DESCRIPTION = 2000


@in_tenant
def modules_for(tenant_id: str, leave_out: str | None = None) -> dict[str, str]:
    """What the tenant's code may import: each library's current source by name."""
    rows = db.session.execute(select(Library.id, Library.name, Library.source).where(Library.tenant_id == tenant_id))
    return {name: source for library_id, name, source in rows if library_id != leave_out}


@in_tenant
def list_libraries(actor: Actor, tenant_id: str, *, limit: int = 100, offset: int = 0) -> list[Library]:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    return list(db.session.scalars(page(select(Library).where(Library.tenant_id == tenant_id)
                                        .order_by(Library.name), limit, offset)))


@in_tenant
def get(actor: Actor, tenant_id: str, library_id: str) -> Library:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    return tenant_row(Library, tenant_id, library_id, _l("Library not found."))


@in_tenant
def versions(actor: Actor, tenant_id: str, library_id: str, *, limit: int = 100,
             offset: int = 0) -> list[LibraryVersion]:
    library = get(actor, tenant_id, library_id)
    return list(db.session.scalars(page(select(LibraryVersion).where(LibraryVersion.library_id == library.id)
                                        .order_by(LibraryVersion.version.desc()), limit, offset)))


@in_tenant
def version(actor: Actor, tenant_id: str, library_id: str, number: int) -> LibraryVersion:
    require_number("version", number, 1)
    library = get(actor, tenant_id, library_id)
    found = db.session.scalar(select(LibraryVersion).where(LibraryVersion.library_id == library.id,
                                                           LibraryVersion.version == number))
    if found is None:
        raise NotFound(_l("Version %(number)s of this library does not exist.", number=number))
    return found


@dataclass
class Importers:
    """What imports a library directly: scripts and other libraries, by their current version."""

    scripts: list[Script] = field(default_factory=list)
    libraries: list[Library] = field(default_factory=list)


@in_tenant
def used_by(actor: Actor, tenant_id: str, names: list[str]) -> dict[str, Importers]:
    """For each library name, the scripts and libraries whose current source imports it.

    Computed on read with the module linker's own parse (cached per source text), so a name in a
    comment or a string never counts; only sources containing one of the names are parsed."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    found = {name: Importers() for name in names}
    if not names:
        return found
    for model, bucket in ((Script, "scripts"), (Library, "libraries")):
        candidates = db.session.scalars(select(model).where(
            model.tenant_id == tenant_id, or_(*(model.source.contains(name, autoescape=True) for name in names)))
            .order_by(model.name))
        for importer in candidates:
            for specifier in {item.specifier for item in rewrite(importer.source).imports}:
                if specifier in found:
                    getattr(found[specifier], bucket).append(importer)
    return found


@in_tenant
def check(actor: Actor, tenant_id: str, name: Any, source: Any, library_id: str | None = None) -> dict[str, Any]:
    """The library editor's check as it is typed: syntax and imports, linked against the tenant's other
    libraries (and itself under `name`, or its saved name, so a cycle back to it shows); field errors with line
    and column."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE if library_id else rbac.SCRIPTS_CREATE, tenant_id)
    if library_id is not None:
        name = get(actor, tenant_id, library_id).name  # a saved library keeps its name
    modules = modules_for(tenant_id, leave_out=library_id)
    if isinstance(name, str) and NAME_RE.match(name) and name not in modules:
        modules[name] = source
    return script_service.validate_source(source, modules)


def _validate(tenant_id: str, name: Any, source: Any, description: Any, library_id: str | None) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors["name"] = _l("A library name is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a "
                            "letter or digit.")
    if (message := text_error(description, MAX_DESCRIPTION)) is not None:
        errors["description"] = message
    others = modules_for(tenant_id, leave_out=library_id)
    if isinstance(name, str) and name in others:
        errors["name"] = _l("A library with this name already exists.")
    elif isinstance(name, str) and name in PACKAGES:
        errors["name"] = _l("This name is taken by a package every script can import.")
    if "name" not in errors:
        errors.update(script_service.validate_source(source, {**others, name: source}))
    return errors


@in_tenant
def create(actor: Actor, tenant_id: str, data: dict[str, Any]) -> Library:
    rbac.require(actor, rbac.SCRIPTS_CREATE, tenant_id)
    name, source, description = data.get("name"), data.get("source"), data.get("description", "")
    errors = _validate(tenant_id, name, source, description, None)
    if errors:
        details = {key: errors.pop(key) for key in ("source_line", "source_column") if key in errors}
        raise ValidationError(errors, details=details)
    library = Library(tenant_id=tenant_id, name=name, description=description, source=source, current_version=1)
    with refused_writes(_l("Another library of this tenant has just taken this name."), fields=("name",)):
        db.session.add(library)
        db.session.flush()
        db.session.add(LibraryVersion(library_id=library.id, tenant_id=tenant_id, version=1, source=source,
                                      change_description="Created", author_id=actor.user_id))
        audit.record(actor, "library.create", tenant_id=tenant_id, target_type="library", target_id=library.id,
                     summary=f"library {name} created")
        db.session.commit()
    return library


@in_tenant
def update(actor: Actor, tenant_id: str, library_id: str, data: dict[str, Any]) -> Library:
    """Change the description or the source; a new source is the next version."""
    rbac.require(actor, rbac.SCRIPTS_UPDATE, tenant_id)
    library = get(actor, tenant_id, library_id)
    source, description = data.get("source", library.source), data.get("description", library.description)
    change = data.get("change_description")
    errors = _validate(tenant_id, library.name, source, description, library.id)
    if change is not None and (message := text_error(change, MAX_DESCRIPTION)) is not None:
        errors["change_description"] = message
    if errors:
        details = {key: errors.pop(key) for key in ("source_line", "source_column") if key in errors}
        raise ValidationError(errors, details=details)
    summary, changes = audit.diff_summary({"source": library.source, "description": library.description},
                                          {"source": source, "description": description})
    if not changes:
        return library
    with refused_writes(_l("The library changed meanwhile; try again."), fields=("version",)):
        if source != library.source:
            library.current_version += 1
            library.source = source
            db.session.add(LibraryVersion(library_id=library.id, tenant_id=tenant_id, version=library.current_version,
                                          source=source, author_id=actor.user_id, change_description=change or ""))
        library.description = description
        audit.record(actor, "library.update", tenant_id=tenant_id, target_type="library", target_id=library.id,
                     summary=summary, details=changes)
        db.session.commit()
    return library


@in_tenant
def delete(actor: Actor, tenant_id: str, library_id: str) -> None:
    """Delete a library with its versions; scripts that import it fail to link until it is back."""
    rbac.require(actor, rbac.SCRIPTS_DELETE, tenant_id)
    library = get(actor, tenant_id, library_id)
    audit.record(actor, "library.delete", tenant_id=tenant_id, target_type="library", target_id=library.id,
                 summary=f"library {library.name} deleted")
    db.session.delete(library)
    db.session.commit()
