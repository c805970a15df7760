"""An admin edits a stage's cadence and adds a measured checklist item, on a phone and a desk."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select, update

from crm.models import StageDefinition, TaskTemplate
from tests import builders
from tests.browser.guard import DESKTOP, PHONE


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail or mobile number").fill(email)
    page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def catalogue_restored(live_db) -> Iterator[None]:
    """The stages and templates are kept between tests (live.py): put them back as they were."""
    stages = [dict(row) for row in live_db.execute(select(StageDefinition.__table__)).mappings()]
    templates = set(live_db.scalars(select(TaskTemplate.id)))
    try:
        yield
    finally:
        live_db.rollback()
        live_db.execute(delete(TaskTemplate).where(TaskTemplate.id.not_in(templates)))
        for row in stages:
            live_db.execute(
                update(StageDefinition.__table__)
                .where(StageDefinition.__table__.c.id == row["id"])
                .values(row)
            )
        live_db.commit()


@pytest.fixture
def admin_email(live_db, catalogue_restored) -> str:
    email = builders.user("admin").email
    live_db.commit()
    return email


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_admin_edits_the_junior_cadence_and_adds_a_measured_item(
    page, page_guard, admin_email, viewport
):
    width = viewport["width"]
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, admin_email)
    page.get_by_role("link", name="Edit stages and checklists").click()
    expect(page.get_by_role("heading", name="Stages and checklists", level=1)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Junior high"))).to_contain_text(
        "14 days between visits"
    )
    page_guard.check(page)
    page_guard.screenshot(f"admin-stages-{width}", page)

    page.get_by_role("link", name=re.compile("Junior high")).click()
    expect(page.get_by_role("heading", name=re.compile("Junior high"), level=1)).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"admin-stage-junior-{width}", page)

    page.get_by_label("Visit every (days)").fill("10")
    page.get_by_role("button", name="Save stage").click()
    expect(page.get_by_text("Stage saved.")).to_be_visible()
    expect(page.get_by_text("A visit every 10 days")).to_be_visible()
    page_guard.check(page)

    page.get_by_role("link", name="Add an item").first.click()
    expect(page.get_by_role("heading", name="New checklist item", level=1)).to_be_visible()
    page.get_by_label("Title in English").fill("Answers within 3 minutes ≥ 85 %")
    page.get_by_label("Title in Chinese").fill("3分钟响应率 ≥ 85%")
    page.get_by_label("Kind").select_option("measured")
    page.get_by_label("Due after (days)").fill("60")
    page.get_by_label("Metric").select_option("response_3min_rate")
    page.get_by_label("The figure must be").select_option("at_least")
    page.get_by_label("Target value").fill("120")
    page.get_by_role("button", name="Add item").click()
    expect(page.get_by_text("This metric runs from 0 to 100")).to_be_visible()
    expect(page.get_by_label("Target value")).to_have_attribute("aria-invalid", "true")
    page_guard.check(page)
    page_guard.screenshot(f"admin-item-refused-{width}", page)

    page.get_by_label("Target value").fill("85")
    page.get_by_role("button", name="Add item").click()
    expect(
        page.get_by_text("Checklist item added: Answers within 3 minutes ≥ 85 %")
    ).to_be_visible()
    added = page.locator(".checklist-item", has_text="Answers within 3 minutes ≥ 85 %")
    expect(added).to_contain_text("Inquiries answered within 3 minutes: at least 85 %")
    expect(added).to_contain_text("Required")
    page_guard.check(page)
    page_guard.screenshot(f"admin-stage-item-added-{width}", page)

    added.get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.get_by_role("heading", name="Edit checklist item", level=1)).to_be_visible()
    expect(page.get_by_label("Target value")).to_have_value("85")
    page_guard.check(page)
    page_guard.screenshot(f"admin-item-edit-{width}", page)


def test_admin_retires_an_item_and_brings_it_back(page, page_guard, admin_email):
    sign_in(page, admin_email)
    page.goto("/admin/stages")
    page.get_by_role("link", name=re.compile("High school")).click()
    item = page.locator(".checklist-item", has_text="Paid promotion tried")
    item.get_by_role("button", name=re.compile("^Retire")).click()
    expect(page.get_by_text("Retired: Paid promotion tried.")).to_be_visible()
    expect(item).to_contain_text("Retired")
    page_guard.check(page)
    page_guard.screenshot("admin-stage-item-retired-390", page)
    item.get_by_role("button", name=re.compile("^Reactivate")).click()
    expect(page.get_by_text("Back in the checklist: Paid promotion tried")).to_be_visible()
    expect(item.get_by_role("button", name=re.compile("^Retire"))).to_be_visible()
    page_guard.check(page)
