"""My factories in Chromium: a rep searches, filters, opens a factory, adds a contact, claims."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from crm.services.growth import stages
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in


@pytest.fixture
def people(live_db):
    now = datetime.now(UTC)
    team = builders.team("Yongkang hardware")
    belt = builders.belt(team, code="yongkang-hardware")
    rep = builders.user("rep", team_=team)
    other_rep = builders.user("rep", team_=team)
    hengda = builders.factory(
        belt,
        owner=rep,
        stage="junior",
        name="永康市恒达五金制品有限公司",
        last_visit_at=now - timedelta(days=3),
        next_follow_up_at=now + timedelta(days=2),
    )
    stages.create_stage_tasks(hengda, "junior", now)
    builders.factory(
        belt,
        owner=rep,
        stage="elementary",
        name="Hengda Cup Works",
        next_follow_up_at=now - timedelta(days=1),
    )
    builders.factory(
        belt,
        owner=rep,
        stage="senior",
        name="永康市金盛工贸有限公司",
        last_visit_at=now - timedelta(days=50),
        eligible_since=now - timedelta(days=4),
    )
    builders.factory(belt, owner=rep, stage="university", name="Zhejiang Brandmaker Ltd.")
    builders.factory(belt, owner=rep, stage="junior", status="paused", name="Paused Pans Co.")
    builders.factory(belt, status="prospect", name="Prospect Tools Co.")
    builders.factory(belt, owner=other_rep, name="Another rep's factory")
    manager = builders.user("manager", leads=[team])
    live_db.commit()
    return {"rep": rep.email, "manager": manager.email, "hengda": hengda.id}


def rows(page: Page):
    return page.locator(".fl-row")


def expect_contact_kept_by_the_field(page: Page) -> None:
    """The refused contact's form: open, with what was typed and the reason by the phone."""
    reach = page.locator("#reach")
    phone = reach.get_by_label("Phone (optional)")
    expect(reach.get_by_label("Name")).to_have_value("王丽")
    expect(reach.get_by_label("Role (optional)")).to_have_value("老板")
    expect(phone).to_have_value("1234")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(
        re.compile("A phone number has 5 to 20 digits; this one has 4.")
    )
    expect(reach.get_by_role("status").locator("span")).to_have_text(
        "Not saved: correct the marked fields and save again."
    )


def test_rep_searches_filters_opens_a_factory_adds_a_contact_and_claims_a_prospect(
    page, page_guard, people
):
    sign_in(page, people["rep"])
    page.goto("/factories/")
    expect(page.get_by_role("heading", name="My factories", level=1)).to_be_visible()
    expect(rows(page)).to_have_count(6)  # their five and the prospect to claim
    expect(page.get_by_text("Another rep's factory")).to_have_count(0)
    page_guard.check(page)

    page.get_by_label("Search by name or credit code").fill("hengda")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]q=hengda"))
    # The name in letters, and 永康市恒达五金制品有限公司 by its pinyin.
    expect(rows(page)).to_have_count(2)
    expect(rows(page).filter(has_text="Hengda Cup Works")).to_contain_text("Overdue")
    expect(rows(page).filter(has_text="永康市恒达五金制品有限公司")).to_have_count(1)

    page.goto("/factories/")
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Stage").select_option(label="Junior high")
    page.get_by_role("button", name="Show factories").click()
    expect(page).to_have_url(re.compile(r"[?&]stage=junior"))
    expect(rows(page)).to_have_count(2)
    expect(page.get_by_text("1 on")).to_be_visible()
    page_guard.check(page)

    page.get_by_role("link", name="永康市恒达五金制品有限公司").click()
    expect(page).to_have_url(re.compile(rf"/factories/{people['hengda']}$"))
    page_guard.check(page)

    page_guard.expect_console_error(r"status of 422")
    contacts = page.locator("#reach")
    contacts.get_by_text("Add a contact").click()
    contacts.get_by_label("Name").fill("王丽")
    contacts.get_by_label("Role (optional)").fill("老板")
    contacts.get_by_label("Phone (optional)").fill("1234")
    contacts.get_by_role("button", name="Save contact").click()
    expect(page.get_by_text("A phone number has 5 to 20 digits; this one has 4.")).to_be_visible()
    expect(page.locator("#reach").get_by_label("Phone (optional)")).to_be_focused()
    expect_contact_kept_by_the_field(page)
    page_guard.check(page)
    page_guard.screenshot("factory-page-contact-refused-390", page)
    factory_page = page.url
    page.goto("/sync")  # the sync centre says why, and the form has it all again after
    expect(page.locator('[data-sync-group="refused"]')).to_contain_text(
        "A phone number has 5 to 20 digits; this one has 4."
    )
    page.goto(factory_page)
    expect_contact_kept_by_the_field(page)
    page_guard.check(page)
    page.locator("#reach").get_by_label("Phone (optional)").fill("138 1234 5678")
    page.locator("#reach").get_by_role("button", name="Save contact").click()
    expect(page.get_by_text("Contact added: 王丽.")).to_be_visible()
    expect(page.locator("#outbox-badge [data-outbox-number]")).to_be_hidden()  # none refused
    expect(page.get_by_role("link", name=re.compile("Call 王丽"))).to_have_attribute(
        "href", "tel:13812345678"
    )
    page_guard.check(page)
    page_guard.screenshot("factory-page-contact-added-390", page)

    page.goto("/factories/?owner=unowned")
    expect(rows(page)).to_have_count(1)
    page.get_by_role("button", name="Claim Prospect Tools Co.").click()
    expect(page.get_by_text("Prospect Tools Co. is yours now.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/factories/\?owner=unowned$"))
    expect(page.get_by_role("button", name=re.compile("^Claim"))).to_have_count(0)
    page_guard.check(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_list_and_the_edit_page_fit_the_screen(page, page_guard, people, viewport):
    sign_in(page, people["rep"])
    page.goto("/factories/")
    expect(rows(page)).to_have_count(6)
    name = rows(page).first.locator(".fl-name")
    box = name.bounding_box()
    assert box is not None and box["height"] >= 44, "a row's link is too small to tap"
    search = page.get_by_role("button", name="Search").bounding_box()
    assert search is not None and search["height"] >= 44
    page_guard.check(page)
    page_guard.screenshot(f"factory-list-rep-{viewport['width']}", page)

    page.goto(f"/factories/{people['hengda']}")
    page.get_by_role("link", name="Edit details").click()
    expect(page.get_by_role("heading", name="Edit details", level=1)).to_be_visible()
    page.get_by_label("Shop link (optional)").fill("ftp://hengda.example")
    page_guard.expect_console_error(r"status of 422")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text("starting with https:// or http://")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"factory-edit-refused-{viewport['width']}", page)
    page.get_by_label("Shop link (optional)").fill("https://hengda.1688.com")
    page.get_by_label("Latitude").fill("28.9")
    page.get_by_label("Longitude").fill("120.03")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text("Saved the factory's details.")).to_be_visible()
    page_guard.check(page)


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1280"])
def test_manager_sees_each_factorys_rep_and_the_managers_fields(page, page_guard, people, viewport):
    sign_in(page, people["manager"])
    page.goto("/factories/")
    expect(rows(page)).to_have_count(7)
    expect(page.get_by_label("Rep")).to_be_visible()  # the filters show unfolded on a laptop
    page_guard.check(page)
    page_guard.screenshot("factory-list-manager-1280", page)
    page.goto(f"/factories/{people['hengda']}/edit")
    expect(page.get_by_label("Unified social credit code")).to_be_visible()
    expect(page.get_by_label("Key account")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("factory-edit-manager-1280", page)
