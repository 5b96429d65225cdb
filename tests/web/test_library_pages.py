"""The libraries pages (issue 12, point 3): list with what imports each library, editor with server markers,
saving through the JSON API, versions and diff with the script workspace's components, read-only for viewers,
delete for org admins; other tenants' ids, bad input, CSRF."""

import re

import pytest

from portal.services import libraries, scripts
from portal.services.rbac import Actor
from tests.conftest import sign_in
from tests.web.test_pages import _csrf

PRICING = "export function total(items) {\n  return items.reduce((sum, item) => sum + item.price, 0);\n}\n"
IMPORTER = "import {total} from 'pricing';\nexport function main(input) {\n  return total(input);\n}\n"


@pytest.fixture
def shelf(app, make_tenant, make_user):
    """A tenant with the library `pricing`, a script importing it, one that mentions it only in a comment,
    and a library importing it; signed_in(role) -> client."""
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    actor = Actor.of(admin)
    pricing = libraries.create(actor, tenant.id, {"name": "pricing", "source": PRICING, "description": "Sums"})
    checkout = scripts.create(actor, tenant.id, {"name": "Checkout", "type": "oneoff", "source": IMPORTER})
    mentions = "// import {total} from 'pricing'\nfunction main() { return 'pricing' }"
    scripts.create(actor, tenant.id, {"name": "Mentions", "type": "oneoff", "source": mentions})
    cart = libraries.create(actor, tenant.id, {"name": "cart", "source": "import {total} from 'pricing';\n"
                                                                         "export const sum = total;\n"})

    def signed_in(role="org_admin"):
        return sign_in(app, admin if role == "org_admin" else make_user(role=role, tenant=tenant))

    return {"tenant": tenant, "actor": actor, "pricing": pricing, "checkout": checkout, "cart": cart,
            "signed_in": signed_in}


def test_the_list_shows_each_library_with_what_imports_it(shelf):
    page = shelf["signed_in"]("viewer").get("/libraries")
    assert page.status_code == 200
    nav = re.search(r'<nav class="main-nav".*?</nav>', page.text, re.S).group(0)
    assert 'href="/libraries" aria-current="page"' in nav and 'href="/dead-letters"' in nav
    rows = dict(re.findall(r'<tr class="library" data-name="([^"]+)">(.*?)</tr>', page.text, re.S))
    assert sorted(rows) == ["cart", "pricing"]
    assert "1 script, 1 library" in rows["pricing"] and "nothing yet" in rows["cart"]
    assert 'id="new-library"' not in page.text  # viewers create nothing
    assert 'id="new-library"' in shelf["signed_in"]("developer").get("/libraries").text
    russian = shelf["signed_in"]("viewer")
    russian.post("/lang/ru")
    page = russian.get("/libraries").text
    assert "<h1>Библиотеки</h1>" in page and "1 сценарий, 1 библиотека" in page and "пока никто" in page


def test_the_editor_lists_importers_and_is_read_only_for_viewers(shelf):
    pricing = shelf["pricing"]
    viewer = shelf["signed_in"]("viewer").get(f"/libraries/{pricing.id}").text
    used_by = re.search(r'<ul id="importers">(.*?)</ul>', viewer, re.S).group(1)
    assert f'/scripts/{shelf["checkout"].id}"' in used_by and f'/libraries/{shelf["cart"].id}"' in used_by
    assert "Mentions" not in used_by  # a name in a comment or a string is no import
    assert 'data-writable="false"' in viewer and 'id="read-only"' in viewer and 'id="save"' not in viewer
    assert 'id="delete-library"' not in viewer
    developer = shelf["signed_in"]("developer").get(f"/libraries/{pricing.id}").text
    assert 'data-writable="true"' in developer and 'id="delete-library"' not in developer
    assert 'id="delete-library"' in shelf["signed_in"]().get(f"/libraries/{pricing.id}").text
    assert "No script imports this library yet." in shelf["signed_in"]().get(f"/libraries/{shelf['cart'].id}").text


def test_new_library_page_by_permission(shelf):
    assert shelf["signed_in"]("viewer").get("/libraries/new").status_code == 403
    page = shelf["signed_in"]("developer").get("/libraries/new")
    assert page.status_code == 200 and 'data-save-method="POST"' in page.text and "/api/v1/libraries" in page.text


def test_the_check_gives_markers_at_the_failed_import(shelf):
    client = shelf["signed_in"]("developer")
    missing = client.post("/libraries/check", json={"name": "tax", "source": "\nimport {rate} from 'rates';\n"
                                                                             "export const tax = rate;"})
    [marker] = missing.get_json()["markers"]
    assert (marker["line"], marker["column"]) == (2, 1)
    assert marker["message"].endswith("import from 'rates' failed. Module not found.")
    fine = client.post("/libraries/check", json={"name": "tax", "source": "import {total} from 'pricing';\n"
                                                                          "export const tax = total;"})
    assert fine.get_json() == {"markers": []}
    # Editing pricing to import cart closes a cycle (cart imports pricing).
    cycle = client.post("/libraries/check", json={"name": "pricing", "library_id": shelf["pricing"].id,
                                                  "source": "import {sum} from 'cart';\nexport const total = sum;"})
    assert "Circular import" in cycle.get_json()["markers"][0]["message"]
    assert client.post("/libraries/check", json=["not", "an object"]).get_json()["markers"][0]["line"] == 1
    viewer = shelf["signed_in"]("viewer")
    assert viewer.post("/libraries/check", json={"name": "x", "source": "export const a = 1;"}).status_code == 403


def test_versions_and_diff(shelf):
    client = shelf["signed_in"]()
    pricing = shelf["pricing"]
    changed = client.patch(f"/api/v1/libraries/{pricing.id}", headers=_csrf(client),
                           json={"source": PRICING.replace("0);", "0) * 100;"), "change_description": "In cents"})
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    versions = client.get(f"/libraries/{pricing.id}/versions").text
    assert re.findall(r'<tr data-version="(\d+)">', versions) == ["2", "1"] and "In cents" in versions
    assert "rollback" not in versions  # libraries have no rollback
    diff = client.get(f"/libraries/{pricing.id}/diff").text
    assert "pricing: version 1 → version 2" in diff and "* 100" in diff and 'id="diff"' in diff
    assert client.get(f"/libraries/{pricing.id}/diff?a=1&b=1").status_code == 200
    assert client.get(f"/libraries/{pricing.id}/diff?a=1&b=9").status_code == 404
    assert client.get(f"/libraries/{pricing.id}/diff?a=x&b=-4").status_code == 200  # unusable numbers: defaults


def test_delete_needs_the_permission_and_is_audited(shelf):
    cart = shelf["cart"]
    assert shelf["signed_in"]("developer").post(f"/libraries/{cart.id}/delete").status_code == 403
    answer = shelf["signed_in"]().post(f"/libraries/{cart.id}/delete", headers={"HX-Request": "true"})
    assert answer.status_code == 204 and answer.headers["HX-Redirect"] == "/libraries"
    assert shelf["signed_in"]().get(f"/libraries/{cart.id}").status_code == 404


def test_unknown_and_other_tenants_ids_are_404(shelf, app, make_tenant, make_user):
    stranger = sign_in(app, make_user(role="org_admin", tenant=make_tenant()))
    pricing = shelf["pricing"]
    for client, target in [(stranger, pricing.id), (shelf["signed_in"](), "nope")]:
        for url in [f"/libraries/{target}", f"/libraries/{target}/versions", f"/libraries/{target}/diff"]:
            assert client.get(url).status_code == 404, url
        assert client.post(f"/libraries/{target}/delete").status_code == 404
        assert client.post("/libraries/check", json={"name": "x", "source": "export const a = 1;",
                                                     "library_id": target}).status_code == 404
    assert re.findall(r'<tr class="library"', stranger.get("/libraries").text) == []


def test_posts_need_the_csrf_token(shelf, app):
    client = shelf["signed_in"]()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        body = {"name": "x", "source": "export const a = 1;"}
        assert client.post("/libraries/check", json=body).status_code == 400
        assert client.post(f"/libraries/{shelf['cart'].id}/delete").status_code == 400
        assert client.post("/api/v1/libraries", json=body).status_code in (400, 403)
        assert client.post("/libraries/check", json=body, headers=_csrf(client)).status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
