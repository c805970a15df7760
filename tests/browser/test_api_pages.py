"""The API tokens page (make, copy once, revoke) and the API's docs page pass the guard."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import builders
from tests.browser.guard import DESKTOP, PHONE

SHOTS = Path(os.environ.get("CRM_SHOTS", "/tmp/shots/api"))


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture
def manager(live_db):
    team = builders.team("Ningbo")
    builders.belt(team, code="ningbo-tools")
    user = builders.user("manager", leads=[team])
    live_db.commit()
    return user


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_a_token_is_made_shown_once_and_revoked(page, page_guard, manager, viewport):
    page.goto("/login")
    page.get_by_label("E-mail or mobile number").fill(manager.email)
    page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/account/")
    page.get_by_role("link", name="Manage API tokens").click()
    page_guard.check(page)
    shoot(page, f"tokens-empty-{viewport['width']}")
    page.get_by_label("Name").fill("Marketplace sync")
    page.get_by_role("button", name="Make token").click()
    secret = page.get_by_label("Token", exact=True)
    expect(secret).to_have_value(re.compile(r"^crm_[0-9a-f]{8}_"))
    page_guard.check(page)
    shoot(page, f"tokens-made-{viewport['width']}")
    page.goto("/account/tokens/")
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Revoke Marketplace sync").click()
    expect(page.get_by_text("The token is revoked")).to_be_visible()
    page_guard.check(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_docs_page_reads_on_a_phone_and_a_desk(page, page_guard, live_db, viewport):
    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="Factory Growth CRM API")).to_be_visible()
    page_guard.check(page)
    shoot(page, f"docs-{viewport['width']}")
