"""The dead-letter queue in a real browser (issue 12): an event script that throws fills the queue through a
real Huey worker (one retry, then a dead letter); an edited replay in the JSON Monaco (invalid JSON first:
refused, nothing replayed) whose new execution sees the edited payload; then, with the script fixed, a replay
of a checked selection and of everything the filters match, each confirmed with its count."""

import re
import time

from playwright.sync_api import expect

from tests.browser.test_workspace import _sign_in

PICKY = "function onEvent(event) {\n  if (!event.payload.ok) throw new Error('not ok: ' + event.payload.n);\n" \
        "  return event.payload;\n}\n"
FIXED = "function onEvent(event) {\n  return {fixed: true, n: event.payload.n};\n}\n"


def _api(page, server, method, path, body):
    """A JSON API call with the page's session and CSRF token, as the portal's own scripts make them."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.fetch(f"{server}/api/v1{path}", method=method, data=body,
                                headers={"X-CSRFToken": token, "Content-Type": "application/json"})
    assert answer.ok, answer.text()
    return answer.json()


def _reload_until(page, url, locator, count, timeout=60):
    """Reload `url` until `locator` matches `count` elements: the worker delivers, retries and replays meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.locator(locator).count() == count:
            return
        assert time.monotonic() < deadline, f"{locator} never matched {count} times at {url}"
        page.wait_for_timeout(300)


def test_dead_letters_fill_and_are_replayed_from_the_page(page, server, worker, tenant_admin, shoot):
    _sign_in(page, server, *tenant_admin)
    script = _api(page, server, "POST", "/scripts", {"name": "Invoice sync", "type": "event",
                                                     "event_patterns": ["invoice.*"], "source": PICKY})
    _api(page, server, "POST", f"/scripts/{script['id']}/status", {"status": "active"})
    _api(page, server, "POST", "/events", [{"type": "invoice.paid", "payload": {"ok": False, "n": n}}
                                           for n in range(3)])
    _reload_until(page, f"{server}/dead-letters", 'tr.dead-letter[data-status="dead"]', 3)
    expect(page.locator("#waiting-count")).to_have_text("3 dead letters waiting match the filters.")
    expect(page.locator("tr.dead-letter").first).to_contain_text("not ok")

    # The detail: payload, last error, both failed attempts.
    page.locator("tr.dead-letter").last.locator("a").first.click()  # the oldest: n = 0
    expect(page.locator("#payload")).to_contain_text('"n": 0')
    expect(page.locator(".error-box")).to_contain_text("not ok: 0")
    expect(page.locator('tr.execution[data-status="failed"]')).to_have_count(2)
    letter_url = page.url

    # Edit the payload in the JSON Monaco: invalid JSON is refused with nothing replayed, then a valid edit runs.
    page.wait_for_selector('#payload-editor[data-ready="true"]')
    page.click("#payload-editor .view-lines")
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.evaluate("() => monaco.editor.getModels()[0].setValue('{\"ok\": true, \"n\": 0,')")
    page.click("#replay-edited")
    expect(page.locator("#payload-error")).to_contain_text("Not valid JSON")
    page.reload()  # nothing was sent: the dead letter still waits with its payload
    expect(page.locator("#dead-letter")).to_have_attribute("data-status", "dead")
    page.wait_for_selector('#payload-editor[data-ready="true"]')
    page.evaluate("() => monaco.editor.getModels()[0].setValue('{\"ok\": true, \"n\": 0,')")
    page.click("#payload-editor .view-lines")
    page.keyboard.press("Control+End")
    page.keyboard.type(' "edited": "yes"}')
    page.click("#replay-edited")
    page.wait_for_url(letter_url)
    expect(page.locator('.flash[role="alert"]')).to_have_text("Replayed with the edited payload.")
    expect(page.locator("#dead-letter")).to_have_attribute("data-status", "replayed")
    page.click("#replay-run")
    expect(page.locator("h1 .badge")).to_have_text("Completed", timeout=30_000)
    expect(page.locator("pre.output")).to_contain_text('"edited": "yes"')

    # The script is fixed; the two left are replayed from the list: one checked, then all that match.
    _api(page, server, "PATCH", f"/scripts/{script['id']}", {"source": FIXED, "change_description": "Fixed"})
    page.goto(f"{server}/dead-letters?event_type=invoice.paid")
    expect(page.locator("#waiting-count")).to_have_text("2 dead letters waiting match the filters.")
    page.locator('tr.dead-letter[data-status="dead"] input[name="ids"]').first.check()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#replay-selected")
    expect(page.locator('.flash[role="alert"]')).to_have_text("Replayed 1 dead letter.")
    assert re.search(r"/dead-letters\?event_type=invoice\.paid$", page.url)
    expect(page.locator('tr.dead-letter[data-status="replayed"]')).to_have_count(2)
    shoot(page, "dead-letters")
    prompts = []
    page.once("dialog", lambda dialog: (prompts.append(dialog.message), dialog.accept()))
    page.click("#replay-all")
    expect(page.locator('.flash[role="alert"]')).to_have_text("Replayed 1 dead letter.")
    assert prompts == ["Replay 1 dead letter?"]
    expect(page.locator('tr.dead-letter[data-status="replayed"]')).to_have_count(3)
    expect(page.locator("#batch-actions")).to_have_count(0)  # nothing waits any more

    # Every replay links to its new execution, which the fixed script completes.
    links = page.locator("tr.dead-letter a.replay-run")
    expect(links).to_have_count(3)
    _reload_until(page, f"{server}/dead-letters", 'tr.dead-letter a.replay-run:text("Completed")', 3)
    assert page.locator('tr.dead-letter[data-status="dead"]').count() == 0  # no replay failed again
