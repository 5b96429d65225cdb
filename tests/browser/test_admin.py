"""The admin pages in a real browser (issue 12): a token shown exactly once, a secret never shown again, an
invited user signing in through their one-time link, and a superadmin acting as a tenant under a banner —
without a single JavaScript console error."""

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import SUPERADMIN
from tests.browser.test_workspace import _sign_in

SLOW = 20_000  # ms: an answer that makes a token or hashes a password, on a busy shared machine


def test_a_token_is_shown_exactly_once(page, server):
    _sign_in(page, server)
    page.click('.main-nav a:has-text("Admin")')
    page.click('.tabs a:has-text("API tokens")')
    name = f"ci-{uuid.uuid4().hex[:6]}"
    page.fill('#create-token input[name="name"]', name)
    page.click('#create-token button[type="submit"]')
    shown = page.locator("#new-token .secret-value")
    expect(shown).to_be_visible(timeout=SLOW)
    secret = shown.input_value()
    assert re.fullmatch(r"jsr_[\w-]{40,}", secret)
    assert page.url == f"{server}/admin/tokens"
    page.reload()  # a plain GET now: no second token, no secret
    expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in page.content()
    expect(page.locator(f'tr:has-text("{name}")')).to_have_count(1)
    expect(page.locator(f'tr:has-text("{name}") code')).to_have_text(secret[:8] + "…")


def test_a_secret_is_never_shown_again(page, server, shoot):
    value = f"s3cret-{uuid.uuid4().hex}"
    _sign_in(page, server)
    page.goto(f"{server}/admin/secrets")
    page.fill('#add-secret input[name="name"]', "PAYMENT_KEY")
    page.fill('#add-secret input[name="value"]', value)
    page.click('#add-secret button[type="submit"]')
    expect(page.locator(".flash")).to_contain_text("PAYMENT_KEY", timeout=SLOW)
    expect(page.locator("#secret-PAYMENT_KEY")).to_be_visible()
    assert value not in page.content()
    assert all(field.input_value() == "" for field in page.locator('input[name="value"]').all())
    shoot(page, "admin-secrets")
    page.reload()
    assert value not in page.content()


def test_an_invited_user_signs_in_with_their_one_time_link(page, server, browser, shoot):
    email = f"new-{uuid.uuid4().hex[:6]}@demo.test"
    _sign_in(page, server)
    page.goto(f"{server}/admin/users")
    page.fill('#invite input[name="email"]', email)
    page.fill('#invite input[name="name"]', "Nadia New")
    page.select_option('#invite select[name="role"]', "developer")
    page.check('#invite input[value="link"]')
    page.click('#invite button[type="submit"]')
    expect(page.locator("#new-link")).to_be_visible(timeout=SLOW)
    link = page.locator("#new-link .secret-value").input_value()
    assert link.startswith(f"{server}/welcome/")
    shoot(page, "admin-users")

    invited = browser.new_context(locale="en-US").new_page()
    try:
        invited.goto(link)
        expect(invited.locator("h1")).to_have_text("Choose your password")
        invited.fill('input[name="password"]', "nadia-password")
        invited.fill('input[name="confirm_password"]', "nadia-password")
        invited.click('button[type="submit"]')
        expect(invited.locator(".user-menu summary")).to_contain_text("Nadia New", timeout=SLOW)
        expect(invited.locator('.main-nav a:has-text("Admin")')).to_have_count(0)  # a developer
        invited.goto(link)  # used once: gone
        expect(invited.locator("main")).to_contain_text("This sign-in link is not valid")
        invited.context.clear_cookies()
        _sign_in(invited, server, email, "nadia-password")
    finally:
        invited.context.close()


def test_a_superadmin_acting_as_a_tenant_sees_the_banner(page, server, shoot):
    _sign_in(page, server, SUPERADMIN)
    page.click('.main-nav a:has-text("Tenants")')
    row = page.locator("#tenant-demo")
    expect(row).to_contain_text("Demo Org")
    expect(page.locator(".acting-banner")).to_have_count(0)
    shoot(page, "tenants")
    row.locator('button:has-text("Act as this tenant")').click()
    banner = page.locator(".acting-banner")
    expect(banner).to_contain_text("You are acting as tenant Demo Org (demo)", timeout=SLOW)
    for section in ("Scripts", "Executions", "Admin"):
        page.click(f'.main-nav a:has-text("{section}")')
        expect(banner).to_be_visible()
    shoot(page, "acting-as-tenant")
    banner.locator('button:has-text("Stop acting")').click()
    expect(page).to_have_url(f"{server}/tenants")
    expect(page.locator(".acting-banner")).to_have_count(0)
