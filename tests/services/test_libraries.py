"""Tenant libraries: versions, audit, link checks at save time, imports in runs and transformations."""

import pytest
from sqlalchemy import select

from portal.models import AuditEvent, LibraryVersion
from portal.services import executions, libraries, scripts, transformations
from portal.services.errors import PermissionDenied, ValidationError
from portal.services.rbac import Actor
from portal.tenancy import system_scope

MATH = "export function add(a, b) { return a + b; }\nexport default function twice(x) { return 2 * x; }\n"


def _admin(make_user, tenant):
    return Actor.of(make_user(role="org_admin", tenant=tenant))


def test_a_script_imports_a_library_and_a_library_another(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    libraries.create(admin, tenant.id, {"name": "math", "source": MATH})
    libraries.create(admin, tenant.id, {"name": "greet", "source": "import twice, {add} from 'math';\n"
                                        "export const hello = (n) => 'hello ' + add(twice(n), 1);\n"})
    script = scripts.create(admin, tenant.id, {"name": "Job", "type": "oneoff", "source":
                                               "import {hello} from 'greet';\nimport * as m from 'math';\n"
                                               "export function main(n) { return [hello(n), m.add(n, n)]; }"})
    execution = executions.run_now(admin, tenant.id, script.id, 2)
    assert execution.status == "completed", execution.error
    assert execution.output == ["hello 5", 4]


def test_a_new_library_version_is_what_the_next_run_imports(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    library = libraries.create(admin, tenant.id, {"name": "v", "source": "export const n = 1;"})
    script = scripts.create(admin, tenant.id, {"name": "Job", "type": "oneoff",
                                               "source": "import {n} from 'v';\nexport const main = () => n;"})
    assert executions.run_now(admin, tenant.id, script.id).output == 1
    libraries.update(admin, tenant.id, library.id, {"source": "export const n = 2;", "change_description": "two"})
    assert executions.run_now(admin, tenant.id, script.id).output == 2
    assert [v.version for v in libraries.versions(admin, tenant.id, library.id)] == [2, 1]
    assert libraries.version(admin, tenant.id, library.id, 2).change_description == "two"
    assert libraries.version(admin, tenant.id, library.id, 1).source == "export const n = 1;"
    with system_scope():
        actions = db_session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == library.id)
                                     .order_by(AuditEvent.created_at)).all()
    assert actions == ["library.create", "library.update"]


@pytest.mark.parametrize(("name", "source", "message"), [
    ("a", "import {x} from 'nowhere';\nexport const a = 1;", "import from 'nowhere' failed. Module not found."),
    ("a", "export const a = ;", "Syntax error at line 1, column 18"),
    ("Bad Name", "export const a = 1;", None),
    ("lodash", "export const a = 1;", None),  # a curated package's name
])
def test_a_library_is_checked_when_saved(db_session, make_tenant, make_user, name, source, message):
    tenant = make_tenant()
    with pytest.raises(ValidationError) as caught:
        libraries.create(_admin(make_user, tenant), tenant.id, {"name": name, "source": source})
    field = "name" if message is None else "source"
    assert field in caught.value.errors and (message is None or message in caught.value.errors["source"])


def test_an_import_cycle_is_refused_at_save(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    a = libraries.create(admin, tenant.id, {"name": "a", "source": "export const a = 1;"})
    libraries.create(admin, tenant.id, {"name": "b", "source": "import {a} from 'a';\nexport const b = a;"})
    with pytest.raises(ValidationError) as caught:
        libraries.update(admin, tenant.id, a.id, {"source": "import {b} from 'b';\nexport const a = 1;"})
    assert "import from 'b' failed. Circular import: b -> a -> b." in caught.value.errors["source"]
    assert caught.value.details == {"source_line": 1, "source_column": 1}


def test_a_script_importing_what_does_not_exist_is_refused_at_save(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    with pytest.raises(ValidationError) as caught:
        scripts.create(admin, tenant.id, {"name": "Job", "type": "oneoff",
                                          "source": "export function main() {}\n  import _ from 'left-pad';"})
    assert caught.value.errors["source"] == ("Syntax error at line 2, column 3: import from 'left-pad' failed. "
                                             "Module not found.")


def test_libraries_belong_to_their_tenant(db_session, make_tenant, make_user):
    a, b = make_tenant(), make_tenant()
    libraries.create(_admin(make_user, a), a.id, {"name": "mine", "source": MATH})
    with pytest.raises(ValidationError):
        scripts.create(_admin(make_user, b), b.id, {"name": "Job", "type": "oneoff",
                                                    "source": "import {add} from 'mine';\nexport const main = add;"})
    assert libraries.list_libraries(_admin(make_user, b), b.id) == []


def test_libraries_follow_script_permissions_and_deletion(db_session, make_tenant, make_user):
    tenant = make_tenant()
    viewer = Actor.of(make_user(role="viewer", tenant=tenant))
    developer = Actor.of(make_user(role="developer", tenant=tenant))
    with pytest.raises(PermissionDenied):
        libraries.create(viewer, tenant.id, {"name": "x", "source": MATH})
    library = libraries.create(developer, tenant.id, {"name": "x", "source": MATH})
    with pytest.raises(PermissionDenied):
        libraries.delete(developer, tenant.id, library.id)
    libraries.delete(_admin(make_user, tenant), tenant.id, library.id)
    with system_scope():
        assert db_session.scalars(select(LibraryVersion).where(LibraryVersion.library_id == library.id)).all() == []


def test_a_rudderstack_transformation_with_a_library_runs_unchanged(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    libraries.create(admin, tenant.id, {"name": "utils", "source":
                                        "export function normalise(email) { return email.trim().toLowerCase(); }"})
    code = ("import { normalise } from 'utils';\n"
            "export async function transformEvent(event, metadata) {\n"
            "  event.context.traits.email = normalise(event.context.traits.email);\n"
            "  event.key = getCredential('apiKey');\n"
            "  return event;\n}\n")
    events = [{"message": {"messageId": "m1", "context": {"traits": {"email": "  Ann@Example.COM "}}},
               "metadata": {"messageId": "m1"}, "destination": {},
               "credentials": [{"key": "apiKey", "value": "k"}]}]
    out = transformations.run_code(admin, tenant.id, code, events)
    assert out["transformedEvents"] == [{"statusCode": 200, "metadata": {"messageId": "m1"}, "output": {
        "messageId": "m1", "context": {"traits": {"email": "ann@example.com"}}, "key": "k"}}]


def test_used_by_follows_the_linkers_parse_of_current_versions(db_session, make_tenant, make_user):
    tenant, other_tenant = make_tenant(), make_tenant()
    admin = _admin(make_user, tenant)
    libraries.create(admin, tenant.id, {"name": "math", "source": MATH})
    libraries.create(admin, tenant.id, {"name": "math-extra", "source": "export const three = 3;"})
    libraries.create(admin, tenant.id, {"name": "greet", "source": "import {add} from 'math';\nexport const g = add;"})
    job = scripts.create(admin, tenant.id, {"name": "Job", "type": "oneoff", "source":
                                            "import twice from 'math';\nexport const main = (n) => twice(n);"})
    scripts.create(admin, tenant.id, {"name": "Talks", "type": "oneoff", "source":
                                      "// import {add} from 'math'\nfunction main() { return \"from 'math'\" }"})
    scripts.create(admin, tenant.id, {"name": "Extra", "type": "oneoff", "source":
                                      "import {three} from 'math-extra';\nexport const main = () => three;"})
    stranger = _admin(make_user, other_tenant)
    libraries.create(stranger, other_tenant.id, {"name": "math", "source": MATH})
    scripts.create(stranger, other_tenant.id, {"name": "Theirs", "type": "oneoff",
                                               "source": "import {add} from 'math';\nexport const main = add;"})
    found = libraries.used_by(admin, tenant.id, ["math", "greet", "absent"])
    assert [s.name for s in found["math"].scripts] == ["Job"]  # not the comment, the string, or math-extra
    assert [lib.name for lib in found["math"].libraries] == ["greet"]
    assert found["greet"].scripts == found["absent"].scripts == [] and libraries.used_by(admin, tenant.id, []) == {}
    # The current version counts: once Job stops importing math, it is no longer listed.
    scripts.update(admin, tenant.id, job.id, {"source": "export const main = (n) => n;"})
    assert libraries.used_by(admin, tenant.id, ["math"])["math"].scripts == []
    viewer = Actor.of(make_user(role="viewer", tenant=tenant))
    assert [lib.name for lib in libraries.used_by(viewer, tenant.id, ["math"])["math"].libraries] == ["greet"]
    with pytest.raises(PermissionDenied):
        libraries.used_by(stranger, tenant.id, ["math"])


def test_the_editors_check_links_against_the_other_libraries(db_session, make_tenant, make_user):
    tenant = make_tenant()
    admin = _admin(make_user, tenant)
    math = libraries.create(admin, tenant.id, {"name": "math", "source": MATH})
    libraries.create(admin, tenant.id, {"name": "greet", "source": "import {add} from 'math';\nexport const g = add;"})
    assert libraries.check(admin, tenant.id, "new", "import {add} from 'math';\nexport const a = add;") == {}
    missing = libraries.check(admin, tenant.id, "new", "export const a = 1;\nimport {x} from 'nowhere';")
    assert (missing["source_line"], missing["source_column"]) == (2, 1)
    assert str(missing["source"]).endswith("import from 'nowhere' failed. Module not found.")
    cycle = libraries.check(admin, tenant.id, "math", "import {g} from 'greet';\nexport const add = g;", math.id)
    assert "Circular import" in str(cycle["source"])
    assert "source" in libraries.check(admin, tenant.id, "", "export const = ;")
    viewer = Actor.of(make_user(role="viewer", tenant=tenant))
    with pytest.raises(PermissionDenied):
        libraries.check(viewer, tenant.id, "x", "export const a = 1;")
    developer = Actor.of(make_user(role="developer", tenant=tenant))
    assert libraries.check(developer, tenant.id, "math", MATH, math.id) == {}
