"""An admin makes a user, deactivates a rep with a handover, and reads the audit log."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.models import Factory
from tests import builders
from tests.browser.guard import DESKTOP, PHONE

SHOTS = Path("/tmp/shots/admin")


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail or mobile number").fill(email)
    page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def shot(page_guard, page: Page, name: str) -> None:
    page_guard.check(page)
    path = page_guard.screenshot(name, page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


@pytest.fixture
def world(live_db) -> dict:
    team = builders.team("Yongkang team")
    belt = builders.belt(team)
    leaving = builders.user("rep", team_=team, email="leaving@example.test")
    leaving.name = "Leaving Rep"
    taker = builders.user("rep", team_=team)
    taker.name = "Taking Rep"
    factory = builders.factory(belt, owner=leaving, name="Hengda Hardware")
    builders.user("manager", leads=[team])
    admin = builders.user("admin")
    live_db.commit()
    return {"admin": admin.email, "factory": factory.id, "taker": taker.id}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_admin_creates_a_user_hands_over_a_leaving_rep_and_reads_the_audit_log(
    page, page_guard, world, live_db, viewport
):
    width = viewport["width"]
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, world["admin"])
    page.get_by_role("link", name="Users").first.click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    shot(page_guard, page, f"admin-users-{width}")

    page.get_by_role("link", name="New user").click()
    page.get_by_label("Role").select_option("rep")
    page.get_by_label("Name").fill("Wang Fang")
    page.get_by_label("E-mail").fill("wang.fang@example.test")
    page.get_by_label("Team (field staff)").select_option(label="Yongkang team")
    shot(page_guard, page, f"admin-user-new-{width}")
    page.get_by_role("button", name="Make the user").click()
    expect(page.get_by_role("heading", name="Wang Fang", level=1)).to_be_visible()
    page.get_by_role("button", name="Issue a reset link").click()
    expect(page.locator("#reset-link")).to_have_value(re.compile(r"/reset/[\w-]{20,}$"))
    shot(page_guard, page, f"admin-user-reset-link-{width}")

    page.get_by_role("link", name="Users").first.click()
    page.get_by_label("Name, e-mail or phone").fill("leaving")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name=re.compile("Leaving Rep")).click()
    page.get_by_role("button", name="Deactivate Leaving Rep").click()
    expect(page.locator("#to_rep-error")).to_contain_text("Name who takes over")
    shot(page_guard, page, f"admin-user-handover-refused-{width}")
    page.get_by_label("Hand everything over to").select_option(str(world["taker"]))
    page.get_by_role("button", name="Deactivate Leaving Rep").click()
    confirm = page.locator("#deactivate-confirm")
    expect(confirm).to_contain_text("1 factory to Taking Rep")
    shot(page_guard, page, f"admin-user-deactivate-confirm-{width}")
    page.get_by_role("button", name="Yes, deactivate Leaving Rep").click()
    expect(
        page.get_by_text("Leaving Rep is deactivated and signed out everywhere.")
    ).to_contain_text("Handed over: 1 factory, 0 open follow-ups")
    live_db.rollback()  # a new transaction sees what the server committed
    assert (
        live_db.scalar(select(Factory.owner_id).where(Factory.id == world["factory"]))
        == world["taker"]
    )
    shot(page_guard, page, f"admin-user-deactivated-{width}")

    page.get_by_role("link", name="Audit log").first.click()
    page.get_by_label("Action").select_option("reassign")
    page.get_by_role("button", name="Filter").click()
    entry = page.locator(".ac-entry", has_text="Hengda Hardware")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Owner")
    expect(entry).to_contain_text("Leaving Rep")
    expect(entry).to_contain_text("Taking Rep")
    shot(page_guard, page, f"admin-audit-{width}")

    page.get_by_role("link", name="Teams").first.click()
    page.get_by_role("link", name=re.compile("Yongkang team")).click()
    shot(page_guard, page, f"admin-team-{width}")
    page.get_by_role("link", name="Belts").first.click()
    page.get_by_role("link", name=re.compile("Belt")).first.click()
    shot(page_guard, page, f"admin-belt-{width}")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_admin_changes_a_setting_and_a_bad_one_is_marked(page, page_guard, world, viewport):
    page.set_viewport_size(viewport)
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, world["admin"])
    page.get_by_role("link", name="Settings").first.click()
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    page.get_by_label("Check-in radius (m)").fill("9")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#checkin_radius_m-error")).to_have_text("Enter a number from 20 to 5000.")
    shot(page_guard, page, f"admin-settings-refused-{viewport['width']}")
    page.get_by_label("Check-in radius (m)").fill("450")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("1 setting saved.")).to_be_visible()
    expect(page.get_by_label("Check-in radius (m)")).to_have_value("450")
    shot(page_guard, page, f"admin-settings-{viewport['width']}")
