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
import uuid
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
def portal_env(tmp_path_factory) -> dict[str, str]:
    """The environment of the portal's processes (server, worker, CLI): a fresh SQLite database with the demo
    tenant and a superadmin, Huey on SQLite, one runner; failed event deliveries are retried once after 0.2 s."""
    instance = tmp_path_factory.mktemp("browser-instance")
    env = {**os.environ, "JSR_INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{instance / 'jsr.sqlite3'}",
           "HUEY_URL": f"sqlite:///{instance / 'huey.sqlite3'}", "JSR_RUNNERS": "1", "PYTHONPATH": str(ROOT),
           "JSR_EVENT_RETRIES": "1", "JSR_RETRY_DELAY_S": "0.2",
           # every browser test signs in from 127.0.0.1: the per-address limit is tested in tests/web
           "JSR_LOGIN_RATE": "300 per minute"}
    for command in (["db", "upgrade"], ["jsr", "seed-demo"],
                    ["jsr", "create-user", SUPERADMIN, "--role", "superadmin", "--password", "demo-password"]):
        subprocess.run(FLASK + command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    return env


@pytest.fixture(scope="session")
def server(portal_env):
    """Base URL of the portal with the demo tenant, on a fresh SQLite database, CSRF on."""
    instance = Path(portal_env["JSR_INSTANCE_PATH"])
    port = _free_port()
    log = (instance / "server.log").open("wb")
    process = subprocess.Popen(FLASK + ["run", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=portal_env,
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


@pytest.fixture(scope="module")
def worker(portal_env):
    """A real Huey consumer (`python -m tasks.worker`, one worker) on the server's database and queue, for the
    tests of one module that need queued runs (event deliveries, retries, replays). It runs no periodic tasks,
    so the demo tenant's scheduled script never fires into the other modules' pages; its whole process group is
    stopped after the module."""
    instance = Path(portal_env["JSR_INSTANCE_PATH"])
    log = (instance / "worker.log").open("ab")
    env = {**portal_env, "JSR_WORKERS": "1", "JSR_WORKER_PERIODIC": "0"}
    process = subprocess.Popen([sys.executable, "-m", "tasks.worker"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="module")
def tenant_admin(portal_env):
    """(email, password) of the org admin of a tenant of its own, made with the CLI for one test module, so its
    scripts, runs and dead letters never show on the demo tenant's pages that other modules check."""
    slug = f"t{uuid.uuid4().hex[:8]}"
    email, password = f"admin@{slug}.test", "browser-password"
    for command in (["jsr", "create-tenant", slug], ["jsr", "create-user", email, "--tenant", slug, "--role",
                                                     "org_admin", "--password", password]):
        subprocess.run(FLASK + command, cwd=ROOT, env=portal_env, check=True, capture_output=True, timeout=120)
    return email, password


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
