"""Libraries in a real browser (issue 12): create one in Monaco, see a failed import marked at its line as
you type, save a second version and diff the two, import it from a script that runs, and find that script in
the library's "used by" list."""

import re

from playwright.sync_api import expect

from tests.browser.test_workspace import _save, _sign_in, _wait_until

MODEL_VALUE = "() => monaco.editor.getModels()[0].getValue()"
MARKERS = ("() => monaco.editor.getModelMarkers({owner: 'server', resource: monaco.editor.getModels()[0].uri})"
           ".map((m) => [m.startLineNumber, m.startColumn, m.message])")
PRICING = "export function total(items) {\n  return items.reduce((sum, item) => sum + item.price, 0);\n}\n"
CHECKOUT = ("import {total} from 'pricing';\n"
            "export function main(input) {\n  return {total: total([{price: 2}, {price: 3}])};\n}\n")


def test_a_library_written_versioned_and_imported_by_a_script_that_runs(page, server, tenant_admin, shoot):
    _sign_in(page, server, *tenant_admin)
    page.click(".main-nav a[href='/libraries']")
    expect(page.locator(".empty")).to_contain_text("There are no libraries yet.")
    page.click("#new-library")
    page.wait_for_selector('#workspace[data-ready="true"]')
    page.fill('input[name="name"]', "pricing")
    page.fill('textarea[name="description"]', "Order arithmetic")

    # A failed import is marked at its line and column as you type; removing it clears the marker.
    page.evaluate(f"() => monaco.editor.getModels()[0].setValue({PRICING!r})")
    page.click("#editor .view-lines")
    page.keyboard.press("Control+End")
    page.keyboard.type("import {rate} from 'rates';")
    _wait_until(page, f"() => ({MARKERS})().length > 0")
    [[line, column, message]] = page.evaluate(MARKERS)
    assert (line, column) == (4, 1) and message.endswith("import from 'rates' failed. Module not found."), message
    page.keyboard.press("Shift+Home")
    page.keyboard.press("Delete")
    _wait_until(page, f"() => ({MARKERS})().length === 0")

    _save(page, "First version")
    page.wait_for_url(re.compile(r"/libraries/[0-9a-f-]{36}$"))
    page.wait_for_selector('#workspace[data-ready="true"]')
    library_url = page.url
    expect(page.locator("#version-label")).to_have_text("version 1")
    assert page.evaluate(MODEL_VALUE).startswith(PRICING)

    # A second version, then Monaco's diff of the two.
    page.click("#editor .view-lines")
    page.keyboard.press("Control+Home")
    page.keyboard.type("// Prices are in cents.\n")
    _save(page, "Say the unit")
    expect(page.locator("#save-message")).to_contain_text("Saved as version 2.")
    page.click("text=Versions")
    expect(page.locator("tr[data-version]")).to_have_count(2)
    page.click("text=Compare the chosen versions")
    page.wait_for_selector('#diff[data-ready="true"]')
    _wait_until(page, "() => (monaco.editor.getDiffEditors()[0].getLineChanges() || []).length > 0")

    # A script imports it and runs.
    page.goto(f"{server}/scripts/new?type=oneoff")
    page.wait_for_selector('#workspace[data-ready="true"]')
    page.fill('input[name="name"]', "Checkout")
    page.evaluate(f"() => monaco.editor.getModels()[0].setValue({CHECKOUT!r})")
    _save(page, "Uses pricing")
    page.wait_for_url(re.compile(r"/scripts/[0-9a-f-]{36}$"))
    page.wait_for_selector('#workspace[data-ready="true"]')
    page.click("#run-saved")
    page.wait_for_url(re.compile(r"/executions/[0-9a-f-]{36}$"))
    expect(page.locator("h1 .badge")).to_have_text("Completed")
    expect(page.locator("pre.output")).to_contain_text('"total": 5')

    # The library names the script that imports it; the list counts it.
    page.goto(library_url)
    page.wait_for_selector('#workspace[data-ready="true"]')
    expect(page.locator("#importers li")).to_have_text(["Checkout One-off"])
    shoot(page, "libraries")
    page.goto(f"{server}/libraries")
    expect(page.locator('tr.library[data-name="pricing"] .used-by')).to_contain_text("1 script")
