"""At phone width (390 px) the script list and the editor fit the screen and the navigation stays in reach;
the main controls of the editor are reachable with Tab (issue 11, Build item 11)."""

from playwright.sync_api import expect

from tests.browser.test_workspace import _sign_in

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
FOCUSED = ("() => document.activeElement.id || document.activeElement.getAttribute('href')"
           " || document.activeElement.name || document.activeElement.className")


def _fits_and_navigates(page, width):
    assert page.evaluate(OVERFLOW) <= 0, "the page scrolls sideways"
    for link in page.locator(".main-nav a").all():
        box = link.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= width, link.inner_text()


def test_phone_width_script_list_and_editor(page, server):
    width = 390
    page.set_viewport_size({"width": width, "height": 844})
    _sign_in(page, server)
    page.goto(f"{server}/scripts")
    _fits_and_navigates(page, width)
    first = page.locator("table a[href^='/scripts/']").first
    expect(first).to_be_visible()
    first.click()
    page.wait_for_selector('#workspace[data-ready="true"]')
    _fits_and_navigates(page, width)
    editor = page.locator("#editor").bounding_box()
    assert editor["width"] >= width * 0.8 and editor["x"] + editor["width"] <= width
    page.click("#editor .view-lines")
    page.keyboard.type("// typed on a phone\n")
    assert "// typed on a phone" in page.evaluate("() => monaco.editor.getModels()[0].getValue()")
    run = page.locator("#run-test")
    run.scroll_into_view_if_needed()
    run.click()
    expect(page.locator("#test-result .result")).to_be_visible()
    page.locator(".main-nav a[href='/executions']").click()
    expect(page).to_have_url(f"{server}/executions")


def test_the_editor_controls_are_reachable_with_tab(page, server):
    _sign_in(page, server)
    page.goto(f"{server}/scripts/new?type=http")
    page.wait_for_selector('#workspace[data-ready="true"]')
    expect(page.locator("#tab-hint")).to_be_visible()
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        seen.append(page.evaluate(FOCUSED))
        if "inputarea" in seen[-1] and seen.count(seen[-1]) == 1:
            page.keyboard.press("Control+m")  # the hint's key: Tab leaves Monaco instead of indenting
    for control in ("/scripts", "/executions", "save", "run-test", "name", "http_path"):
        assert control in seen, f"{control} not reached: {seen}"
