"""/api/v1/libraries: CRUD with versions; a script importing a library runs through the API."""


def test_library_crud_with_versions_and_a_script_that_imports_it(api, db_session):
    admin, _ = api()
    created = admin("POST", "/libraries", json={"name": "fmt", "source": "export const up = (s) => s.toUpperCase();"})
    assert created.status_code == 201
    library = created.get_json()
    assert library["version"] == 1 and library["source"].startswith("export")
    script = admin("POST", "/scripts", json={"name": "Job", "type": "oneoff", "source":
                                             "import {up} from 'fmt';\nexport const main = (s) => up(s);"}).get_json()
    assert admin("POST", f"/scripts/{script['id']}/run", json={"input": "hi"}).get_json()["output"] == "HI"
    changed = admin("PATCH", f"/libraries/{library['id']}", json={"source": "export const up = (s) => s + '!';"})
    assert changed.get_json()["version"] == 2
    assert [v["version"] for v in admin("GET", f"/libraries/{library['id']}/versions").get_json()["items"]] == [2, 1]
    assert admin("GET", f"/libraries/{library['id']}/versions/1").get_json()["source"].endswith("toUpperCase();")
    assert [item["name"] for item in admin("GET", "/libraries").get_json()["items"]] == ["fmt"]
    assert admin("DELETE", f"/libraries/{library['id']}").status_code == 204
    assert admin("GET", f"/libraries/{library['id']}").status_code == 404


def test_library_refusals(api, db_session):
    admin, tenant = api()
    missing = admin("POST", "/libraries", json={"name": "x", "source": "import {a} from 'y';\nexport const b = a;"})
    assert missing.status_code == 422
    assert missing.get_json()["fields"]["source"].endswith("import from 'y' failed. Module not found.")
    assert missing.get_json()["source_line"] == 1
    assert admin("POST", "/libraries", json={"name": "Upper Case", "source": "export const a = 1;"}).status_code == 422
    admin("POST", "/libraries", json={"name": "dup", "source": "export const a = 1;"})
    assert admin("POST", "/libraries", json={"name": "dup", "source": "export const a = 1;"}).status_code == 422
    viewer, _ = api(role="viewer", tenant=tenant)
    assert viewer("GET", "/libraries").status_code == 200
    assert viewer("POST", "/libraries", json={"name": "v", "source": "export const a = 1;"}).status_code == 403
