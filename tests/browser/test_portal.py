"""A factory owner on a phone: sees the checklist, hands in a video link; the rep accepts it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.clock import now
from crm.models import MetricSnapshot, Task
from crm.services.growth import stages
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in

FACTORY = "永康市恒达五金制品有限公司"


@pytest.fixture
def owner_world(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, stage="junior", name=FACTORY)
    stages.create_stage_tasks(factory, "junior", now())
    live_db.add(
        MetricSnapshot(
            factory=factory,
            metric_code="response_3min_rate",
            month=date(now().year, now().month, 1),
            value=Decimal("72"),
        )
    )
    builders.visit(factory, rep, summary="店铺照片已重拍", notes="INTERNAL: owner is hard to reach")
    owner = builders.user("factory", factory=factory)
    live_db.commit()
    video = (
        live_db.scalars(
            select(Task).where(Task.factory_id == factory.id, Task.kind == "video_shoot")
        ).first()
        or live_db.scalars(
            select(Task).where(Task.factory_id == factory.id, Task.kind != "measured")
        ).first()
    )
    return {"owner": owner.email, "rep": rep.email, "factory_id": factory.id, "task": video}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_the_portal_shows_the_growth_and_never_internal_notes(
    page, page_guard, owner_world, viewport
):
    sign_in(page, owner_world["owner"])
    expect(page.get_by_text("Year 2 of 4: Junior high")).to_be_visible()
    expect(page.get_by_role("heading", name="To reach High school")).to_be_visible()
    expect(page.get_by_text(re.compile(r"72 % of 80 %"))).to_be_visible()
    expect(page.get_by_text("店铺照片已重拍")).to_be_visible()
    assert "INTERNAL" not in page.content()
    page_guard.check(page)
    page_guard.screenshot(f"portal-{viewport['width']}", page)


def test_a_factory_hands_in_a_video_link_and_the_rep_accepts_it(
    page, page_guard, live_db, owner_world
):
    task = owner_world["task"]
    sign_in(page, owner_world["owner"])
    row = page.locator(f"#task-{task.id}")
    row.get_by_text("Hand in evidence").click()
    row.get_by_label("Link").fill("https://v.example.com/hengda-workshop")
    page_guard.check(page)
    page_guard.screenshot("portal-hand-in-390", page)
    row.get_by_role("button", name="Hand in", exact=True).click()
    expect(page.get_by_text("Handed in. Your rep will check it.")).to_be_visible()
    expect(page.locator(f"#task-{task.id}").get_by_text("Handed in", exact=True)).to_be_visible()
    page_guard.check(page)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, owner_world["rep"])
    page.goto(f"/factories/{owner_world['factory_id']}")
    rep_row = page.locator(f"#task-{task.id}")
    expect(rep_row.get_by_role("link", name=re.compile("hengda-workshop"))).to_be_visible()
    rep_row.get_by_role("button", name="Accept").click()
    # Sent through the outbox: the page is drawn afresh once the server has it.
    expect(page.get_by_text(re.compile(r"^Accepted: "))).to_be_visible()
    page_guard.check(page)

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, owner_world["owner"])
    expect(page.locator(f"#task-{task.id}").get_by_text("Done", exact=True)).to_be_visible()
    page_guard.check(page)
    live_db.rollback()
    assert live_db.get(Task, task.id).status == "done"


def test_the_portal_in_chinese_passes_the_guard(page, page_guard, live_db, owner_world):
    sign_in(page, owner_world["owner"])
    page.goto("/account/")
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Save language").click()
    page.goto("/portal/")
    expect(page.get_by_role("heading", name="我的清单")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("portal-zh-390", page)
