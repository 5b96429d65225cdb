"""The dashboard and the audit log in a real browser (issue 12): with runs made through the API, both charts
draw bars and lines in the status colours, switching the range redraws them without a reload, and the audit
log filters by action and shows a change as before → after."""

import re
import time

from playwright.sync_api import expect

from portal.services.demo import PASSWORD

THROWER = "function main(input) {\n  if (input && input.fail) throw new Error('boom');\n  return {ok: true};\n}\n"
COMPLETED_GREEN, FAILED_RED = (47, 158, 68), (224, 49, 49)  # portal/web/dashboard/charts.py STATUS_COLOURS


def _sign_in(page, server):
    page.goto(f"{server}/login")
    page.fill('input[name="email"]', "admin@demo.test")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page.locator(".main-nav")).to_be_visible()


def _api(page, server, method: str, path: str, body: dict | None = None) -> dict | None:
    """A JSON API call with the signed-in page's session and CSRF token."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.fetch(f"{server}/api/v1{path}", method=method, data=body,
                                headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert answer.ok, (path, answer.status, answer.text())
    return answer.json() if answer.status != 204 else None


def _pixels(page, canvas_id: str, colour: tuple[int, int, int]) -> tuple[int, int]:
    """(non-transparent pixels, pixels of `colour`) on the canvas."""
    return tuple(page.evaluate("""([id, [r, g, b]]) => {
        const canvas = document.getElementById(id);
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0, matching = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 0) painted++;
            if (data[i + 3] > 200 && Math.abs(data[i] - r) < 8 && Math.abs(data[i + 1] - g) < 8
                && Math.abs(data[i + 2] - b) < 8) matching++;
        }
        return [painted, matching];
    }""", [canvas_id, list(colour)]))


def _wait_for_bars(page, canvas_id: str, colour, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while _pixels(page, canvas_id, colour)[1] == 0:
        assert time.monotonic() < deadline, f"no {colour} drawn on #{canvas_id}"
        page.wait_for_timeout(100)


def test_the_dashboard_draws_switches_range_and_the_audit_log_shows_a_diff(page, server, shoot):
    _sign_in(page, server)
    thrower = _api(page, server, "POST", "/scripts", {"name": "Thrower", "type": "oneoff", "source": THROWER})
    try:
        _look_at_the_dashboard_and_the_audit_log(page, server, shoot, thrower["id"])
    finally:  # the server is shared by the session: its runs go with the script (the other tests count runs)
        _api(page, server, "DELETE", f"/scripts/{thrower['id']}")


def _look_at_the_dashboard_and_the_audit_log(page, server, shoot, thrower_id: str) -> None:
    for fail in (False, False, False, True, False, True):
        _api(page, server, "POST", f"/scripts/{thrower_id}/run", {"input": {"fail": fail}})
    _api(page, server, "PATCH", f"/scripts/{thrower_id}", {"description": "Throws when asked to"})

    page.goto(f"{server}/")
    expect(page.locator("#total-runs")).to_have_text("6")
    expect(page.locator("#error-rate")).to_have_text("33.3%")
    expect(page.locator("#failing")).to_contain_text("Thrower")
    _wait_for_bars(page, "runs-chart", COMPLETED_GREEN)
    _wait_for_bars(page, "runs-chart", FAILED_RED)
    _wait_for_bars(page, "errors-chart", FAILED_RED)  # the error-rate line
    assert _pixels(page, "runs-chart", COMPLETED_GREEN)[0] > 1000  # axes, labels and legend too
    shoot(page, "dashboard")

    # Switching the range swaps the figures by htmx (no reload: the marker survives) and redraws the charts.
    page.evaluate("() => { window.notReloaded = true; }")
    page.click('.ranges a[data-range="7d"]')
    expect(page.locator('.ranges a[aria-current="true"]')).to_have_attribute("data-range", "7d")
    page.wait_for_url(re.compile(r"/\?range=7d$"))
    assert page.evaluate("() => window.notReloaded === true")
    _wait_for_bars(page, "runs-chart", COMPLETED_GREEN)
    expect(page.locator("#total-runs")).to_have_text("6")
    page.click('.ranges a[data-range="1h"]')
    expect(page.locator("#figures")).to_have_attribute("data-range", "1h")
    _wait_for_bars(page, "runs-chart", FAILED_RED)

    page.click('.main-nav a[href="/audit"]')
    expect(page.locator("h1")).to_have_text("Audit log")
    expect(page.locator('tr.audit-entry[data-action="script.run"]')).to_have_count(6)
    page.select_option('select[name="action"]', "script.update")
    expect(page.locator("tr.audit-entry")).to_have_count(1)
    page.wait_for_url(re.compile(r"action=script\.update"))
    change = page.locator('tr.audit-entry tr[data-field="description"]')
    expect(change.locator(".before")).to_have_text("(empty)")
    expect(change.locator(".after")).to_have_text("Throws when asked to")
    shoot(page, "audit")
