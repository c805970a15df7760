"""Two-step sign-in on a phone: an admin made to enrol scans the QR, types the app's code, keeps
the recovery codes, and signs in again with one of them; the admin's security page."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from crm.services.install import settings
from tests import builders
from tests.browser.guard import DESKTOP, PHONE

SHOTS = Path("/tmp/shots/two-factor")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail or mobile number").fill(email)
    page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_enrols_on_a_phone_and_signs_in_again_with_a_recovery_code(
    live_db, page, page_guard
):
    admin = builders.user("admin")
    admin.name = "Zhou Min"
    live_db.commit()
    settings.put(admin, "second_factor_required", True)
    email = admin.email
    live_db.commit()

    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/account/two-step/$"))
    expect(page.get_by_role("heading", name="Set up two-step sign-in", level=1)).to_be_visible()
    expect(page.locator("svg.qr-code")).to_have_count(0)  # no key before the user starts
    page_guard.check(page)
    shot(page, "start-390")
    page.get_by_role("button", name="Start set-up").click()
    expect(page).to_have_url(re.compile(r"/account/two-step/setup$"))
    expect(page.locator("svg.qr-code")).to_be_visible()
    page_guard.check(page)
    shot(page, "enrol-390")

    page.goto("/admin/")  # nothing else opens before enrolment
    expect(page).to_have_url(re.compile(r"/account/two-step/$"))
    page.goto("/account/two-step/setup")  # the key of the start above, unchanged

    secret = page.locator(".secret-key").inner_text().replace(" ", "")
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    recovery = codes.nth(0).inner_text().strip()
    assert re.fullmatch(r"[a-z0-9]{5}-[a-z0-9]{5}", recovery)
    page_guard.check(page)
    shot(page, "recovery-codes-390")

    page.get_by_role("link", name="I have kept them, continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page_guard.check(page)

    page.get_by_role("button", name="Sign out").first.click()
    expect(page).to_have_url(re.compile(r"/login\?out=1$"))
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/login/code$"))
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page_guard.check(page)
    shot(page, "code-390")

    page.get_by_label("Code").fill(recovery)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_text("Recovery code used; 9 left.")).to_be_visible()
    page_guard.check(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_admin_security_page_lists_who_uses_it(live_db, page, page_guard, viewport):
    admin = builders.user("admin")
    builders.user("manager", leads=[builders.team()]).name = "Wang Lei"
    live_db.commit()
    sign_in(page, admin.email)
    page.goto("/admin/security/")
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
    expect(page.get_by_text("Wang Lei")).to_be_visible()
    page_guard.check(page)
    shot(page, f"admin-security-{viewport['width']}")

    page.get_by_label("Admins and managers must use two-step sign-in").check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/account/two-step/$"))  # the admin's own turn first
    page_guard.check(page)
    shot(page, f"enrol-after-setting-{viewport['width']}")
