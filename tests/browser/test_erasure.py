"""An admin erases a rep who left: the page names what will change, a wrong name is marked, the
right one erases, and the user's page then shows a former user (at 390 and 1280 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_admin_console import shot, sign_in


@pytest.fixture
def world(live_db) -> dict:
    team = builders.team("Yongkang team")
    belt = builders.belt(team)
    gone = builders.user("rep", team_=team, email="left.us@example.test", active=False)
    gone.name = "Lü Xiaoqing"
    builders.visit(builders.factory(belt, name="Hengda Hardware"), gone, notes="Lü Xiaoqing met")
    admin = builders.user("admin")
    live_db.commit()
    return {"admin": admin.email, "gone": gone.id}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_admin_erases_a_rep_who_left(page, page_guard, world, viewport):
    width = viewport["width"]
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, world["admin"])
    page.goto(f"/admin/users/{world['gone']}")
    page.get_by_role("link", name="Erase personal data").click()
    expect(page.get_by_role("heading", name="What will change")).to_be_visible()
    expect(page.locator(".ac-erase-list")).to_contain_text("1 note, reason or message")
    shot(page_guard, page, f"admin-erase-{width}")

    page.get_by_label("Type their name to confirm").fill("Lü")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.locator("#confirmation-error")).to_contain_text("Type the name exactly")
    shot(page_guard, page, f"admin-erase-refused-{width}")

    page.get_by_label("Type their name to confirm").fill("Lü Xiaoqing")
    page.get_by_role("button", name="Erase for good").click()
    expect(page.get_by_role("heading", name="a former user", level=1)).to_be_visible()
    shot(page_guard, page, f"admin-erased-{width}")
