"""The portal served by a real server on 127.0.0.1, driven by Debian's Chromium through Playwright.

One server and one browser for the whole session; both are always stopped (the server's whole
process group, runner processes included). Chromium comes from `apt-get install chromium`
(`make setup` installs it when missing), never from `playwright install`.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "app"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
SUPERADMIN = "root@platform.test"  # besides the demo tenant's users; the demo password too


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after 10 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """Base URL of the portal with the demo tenant and a superadmin, on a fresh SQLite database, CSRF on."""
    instance = tmp_path_factory.mktemp("browser-instance")
    env = {**os.environ, "JSR_INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'jsr.sqlite3'}",
           "HUEY_URL": f"sqlite:///{instance / 'huey.sqlite3'}", "JSR_RUNNERS": "1", "PYTHONPATH": str(ROOT)}
    for command in (["db", "upgrade"], ["jsr", "seed-demo"],
                    ["jsr", "create-user", SUPERADMIN, "--role", "superadmin", "--password", "demo-password"]):
        subprocess.run(FLASK + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = (instance / "server.log").open("wb")
    process = subprocess.Popen(FLASK + ["run", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((instance / "server.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "Chromium is missing: `make setup` installs it (apt-get install chromium fonts-liberation)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page; the test fails on any JavaScript console error or uncaught exception."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors in the browser: {errors}"


@pytest.fixture
def shoot():
    """shoot(page, name): a screenshot into JSR_SCREENSHOTS (`make screenshots` sets docs/screenshots)."""
    folder = os.environ.get("JSR_SCREENSHOTS")

    def _shoot(page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return _shoot
