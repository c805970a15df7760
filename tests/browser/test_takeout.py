"""A person's own data on a phone: a factory owner asks for the factory's zip from the portal's
card, watches it wait, and downloads it once; a rep asks for their own (issue 23, point 4)."""

from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import expect

from crm.clock import now
from crm.services.growth import stages
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in
from tests.browser.test_imports import drain


@pytest.fixture
def people(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, stage="junior", name="恒达五金")
    stages.create_stage_tasks(factory, "junior", now())
    builders.visit(factory, rep, summary="店铺照片已重拍", notes="INTERNAL: hard to reach")
    owner = builders.user("factory", factory=factory)
    live_db.commit()
    return {"owner": owner.email, "rep": rep.email}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_a_factory_owner_downloads_the_factorys_data_once(page, page_guard, people, viewport):
    sign_in(page, people["owner"])
    page.get_by_role("link", name="Ask for our data").click()
    page.get_by_role("button", name="Ask for our data").click()
    expect(page.get_by_text("Waiting to start…")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"takeout-waiting-{viewport['width']}", page)

    drain()  # the card's script sees it done and loads the page again
    link = page.get_by_role("link", name="Download the zip")
    expect(link).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"takeout-ready-{viewport['width']}", page)
    with page.expect_download() as download:
        link.click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert "README.txt" in archive.namelist()
        assert b"INTERNAL" not in b"".join(archive.read(name) for name in archive.namelist())
    page.reload()
    expect(page.get_by_text("Downloaded.")).to_be_visible()


def test_a_rep_asks_for_their_own_data_on_the_phone(page, page_guard, people):
    sign_in(page, people["rep"])
    page.goto("/account/")
    page.get_by_role("button", name="Ask for my data").click()
    drain()
    page.reload()
    expect(page.get_by_role("link", name="Download the zip")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("takeout-rep-390", page)
