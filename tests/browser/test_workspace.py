"""The script workspace in a real browser (issue 11): sign in, write a webhook script in Monaco, see a
syntax-error marker, test it, save, run it, watch history update live, open the detail, diff two
versions, roll back, replay real inputs against a draft, get the autosaved draft back, and switch to
Russian and Uzbek — without a single JavaScript console error."""

import re
import time

from playwright.sync_api import expect

from portal.services.demo import PASSWORD

SOURCE_VALUE = "() => monaco.editor.getModels()[0].getValue()"
MARKERS = "() => monaco.editor.getModelMarkers({owner: 'server', resource: monaco.editor.getModels()[0].uri}).length"


def _wait_until(page, expression: str, timeout: float = 20) -> None:
    """Poll `expression` until it is truthy. (Playwright's wait_for_function evaluates strings with eval,
    which the portal's Content-Security-Policy forbids; page.evaluate is not subject to it.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(100)


def _sign_in(page, server, email="admin@demo.test", password=PASSWORD):
    page.goto(f"{server}/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    expect(page.locator(".main-nav")).to_be_visible()


def _save(page, description):
    page.keyboard.press("Control+s")
    expect(page.locator("#save-dialog")).to_be_visible()
    page.fill("#change-description", description)
    page.click("#save-confirm")


def test_the_script_workspace_end_to_end(page, server, shoot):
    _sign_in(page, server)
    page.goto(f"{server}/scripts/new?type=http")
    page.wait_for_selector('#workspace[data-ready="true"]')
    page.fill('input[name="name"]', "Shop hook")
    page.fill('input[name="http_path"]', "shop/orders")

    # Type the handler into Monaco: it closes brackets and quotes itself, so check the model's text.
    page.click("#editor .view-lines")
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type("async function handler(request, ctx) {\nconsole.log('got', request.body.id);\n"
                       "return {status: 201, body: {id: request.body.id}};")
    typed = page.evaluate(SOURCE_VALUE)
    assert re.fullmatch(r"async function handler\(request, ctx\) \{\n\s+console\.log\('got', request\.body\.id\);\n"
                        r"\s+return \{status: 201, body: \{id: request\.body\.id\}\};\n\}", typed), typed

    # A syntax error gets a marker from the server's check; removing it clears the marker.
    page.keyboard.press("Control+End")
    broken = "\nconst broken = ;"
    page.keyboard.type(broken)
    _wait_until(page, f"() => ({MARKERS})() > 0")
    for _ in broken:
        page.keyboard.press("Backspace")
    _wait_until(page, f"() => ({MARKERS})() === 0")
    assert page.evaluate(SOURCE_VALUE) == typed

    # The test panel runs the unsaved code with the sample webhook request and shows its logs.
    page.click("#run-test")
    expect(page.locator("#test-result .logs")).to_contain_text("got 1234")
    expect(page.locator("#test-result .output")).to_contain_text('"id": 1234')
    shoot(page, "editor-test-panel")

    # Ctrl+S saves with a change description; the new script opens at its own URL.
    _save(page, "First version")
    page.wait_for_url(re.compile(r"/scripts/[0-9a-f-]{36}$"))
    page.wait_for_selector('#workspace[data-ready="true"]')
    script_url = page.url
    assert page.evaluate(SOURCE_VALUE) == typed

    # Activated, its webhook answers.
    page.select_option('form[action$="/status"] select[name="status"]', "active")
    page.click('form[action$="/status"] button[type="submit"]')
    page.wait_for_url(script_url)
    page.wait_for_selector('#workspace[data-ready="true"]')
    page.click("#editor .view-lines")
    page.keyboard.press("Control+Home")
    page.keyboard.type("// v2\n")
    _save(page, "Add a comment")
    expect(page.locator("#save-message")).to_contain_text("Saved as version 2.")
    expect(page.locator("#version-label")).to_have_text("version 2")

    # A run of the saved version is recorded; its detail shows the logs.
    page.click("#run-saved")
    page.wait_for_url(re.compile(r"/executions/[0-9a-f-]{36}$"))
    expect(page.locator(".logs")).to_contain_text("got 1234")
    expect(page.locator("h1 .badge")).to_have_text("Completed")
    shoot(page, "execution-detail")

    # History updates itself: a webhook call made meanwhile appears without a reload.
    page.goto(f"{server}/executions")
    rows = page.locator("tr.execution")
    expect(rows).to_have_count(1)
    called = page.request.post(f"{server}/hooks/demo/shop/orders", data={"id": 77})  # as an external sender would
    assert called.status == 201 and called.json() == {"id": 77}, called.text()
    expect(rows).to_have_count(2, timeout=15_000)
    shoot(page, "history")
    rows.first.locator("a").click()
    expect(page.locator(".logs")).to_contain_text("got 77")

    # Versions: Monaco's diff of 1 → 2, then a confirmed rollback to version 1 (saved as 3).
    page.goto(f"{script_url}/versions")
    page.click("text=Compare the chosen versions")
    page.wait_for_selector('#diff[data-ready="true"]')
    _wait_until(page, "() => (monaco.editor.getDiffEditors()[0].getLineChanges() || []).length > 0")
    shoot(page, "diff")
    page.goto(f"{script_url}/versions")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('tr[data-version="1"] button.rollback')
    page.wait_for_url(script_url)
    expect(page.locator('.flash[role="alert"]')).to_contain_text("Rolled back to version 1")
    expect(page.locator("#version-label")).to_have_text("version 3")
    page.wait_for_selector('#workspace[data-ready="true"]')
    assert page.evaluate(SOURCE_VALUE) == typed

    # Replay the two real runs against a draft that answers 202: both outputs changed, shown side by side.
    page.click("#editor .view-lines")
    page.keyboard.press("Control+h")  # Monaco's find and replace
    page.keyboard.type("201")
    page.keyboard.press("Tab")
    page.keyboard.type("202")
    page.keyboard.press("Control+Alt+Enter")  # replace all
    page.keyboard.press("Escape")
    assert "status: 202" in page.evaluate(SOURCE_VALUE)
    page.click("#run-replay")
    expect(page.locator("#replay-result tr[data-verdict]")).to_have_count(2)
    expect(page.locator("#replay-result .verdicts")).to_contain_text("Changed: 2")
    expect(page.locator("#replay-result .added").first).to_contain_text("202")
    shoot(page, "replay")

    # Leaving with unsaved changes asks first (the dismissed prompt keeps the page).
    with page.expect_event("dialog") as prompt:
        page.close(run_before_unload=True)
    assert prompt.value.type == "beforeunload"
    prompt.value.dismiss()
    assert page.evaluate(SOURCE_VALUE).count("202") == 1

    # The draft was autosaved 2 s after the last keystroke (no version): it comes back on the next visit.
    _wait_until(page, "() => document.getElementById('workspace').dataset.draftSaved !== undefined")
    page.goto(script_url)
    page.wait_for_selector('#workspace[data-ready="true"]')
    expect(page.locator("#draft-note")).to_be_visible()
    expect(page.locator("#version-label")).to_have_text("version 3")
    assert "status: 202" in page.evaluate(SOURCE_VALUE)

    # The user menu switches the language, kept on the account.
    for code, scripts_word, executions_word in [("ru", "Сценарии", "Выполнения"), ("uz", "Skriptlar",
                                                                                    "Ishga tushirishlar")]:
        page.goto(f"{server}/executions")
        page.click(".user-menu summary")
        page.click(f'.user-menu button[data-lang="{code}"]')
        expect(page.locator(".main-nav")).to_contain_text(scripts_word)
        expect(page.locator("h1")).to_have_text(executions_word)
        expect(page.locator("html")).to_have_attribute("lang", code)
    shoot(page, "history-uz")


def test_rotating_a_webhook_secret_shows_it_once_and_the_hook_takes_it(page, server):
    _sign_in(page, server)
    page.goto(f"{server}/scripts?type=http")
    page.click("text=Order webhook")
    page.wait_for_selector('#workspace[data-ready="true"]')
    script_url = page.url
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    changed = page.request.patch(f"{server}/api/v1/scripts/{script_url.rsplit('/', 1)[1]}",
                                 data={"http_auth": "token"}, headers={"X-CSRFToken": token})
    assert changed.ok, changed.text()
    page.goto(script_url)
    page.wait_for_selector('#workspace[data-ready="true"]')
    expect(page.locator("#hook-url")).to_have_text(f"{server}/hooks/demo/orders")
    expect(page.locator("#curl-example")).to_contain_text('X-JSR-Token: $SECRET')
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rotate-secret")
    expect(page.locator("#new-secret")).to_be_visible()
    secret = page.locator("#new-secret-value").text_content()
    assert len(secret) >= 40
    called = page.request.post(f"{server}/hooks/demo/orders", data={"id": 5}, headers={"X-JSR-Token": secret})
    assert called.ok, called.text()
    refused = page.request.post(f"{server}/hooks/demo/orders", data={"id": 5}, headers={"X-JSR-Token": "old"})
    assert refused.status == 401
    page.goto(script_url)  # shown once: a reload does not show it again
    expect(page.locator("#new-secret")).to_be_hidden()
    assert secret not in page.content()


def test_the_test_panel_runs_a_transformation_over_a_sample_request_list(page, server):
    _sign_in(page, server)
    page.goto(f"{server}/scripts/new")
    page.wait_for_selector('#workspace[data-ready="true"]')
    page.evaluate("() => monaco.editor.getModels()[0].setValue("
                  "'function transformEvent(event, metadata) {\\n  log(event.event);\\n  return event;\\n}\\n')")
    # The input follows the source: a transformation gets RudderStack's request list to run over.
    sample = page.evaluate("() => JSON.parse(monaco.editor.getModels()[1].getValue())")
    assert isinstance(sample, list) and sample[0]["message"]["event"] == "Order Completed"
    page.click("#run-test")
    expect(page.locator('#test-result li[data-status-code="200"]')).to_contain_text('"orderId": 1234')
    expect(page.locator("#test-result ol.logs")).to_contain_text("Order Completed")
