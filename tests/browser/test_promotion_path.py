"""The promotion path in Chromium: the last item ticked, the request, the manager's decision.

A rep ticks the one item left on an elementary factory's checklist, sees it eligible and
asks for junior high; the manager of the belt approves (or refuses with a reason) in the
decision queue; the factory page then shows the new stage, its tasks and who did what.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from crm.extensions import db
from crm.models import Factory, StageChange, Task
from crm.services.growth import promotions, stages, tasks
from tests import builders
from tests.browser.guard import DESKTOP
from tests.browser.test_factory_page import sign_in, sign_out

NAME = "永康市恒达五金制品有限公司"


def elementary_factory(belt, rep, name: str, now: datetime, *, left: tuple[str, ...]):
    """An elementary factory whose tasks are done except the titles in `left` (and measured)."""
    factory = builders.factory(belt, owner=rep, stage="elementary", name=name)
    stages.create_stage_tasks(factory, "elementary", now)
    for task in factory_tasks(factory):
        if task.kind != "measured" and task.title_en not in left:
            task.status = "done"
    return factory


def factory_tasks(factory) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.factory_id == factory.id)))


@pytest.fixture
def world(live_db):
    now = datetime.now(UTC)
    team, other_team = builders.team("Yongkang hardware"), builders.team("Wenzhou shoes")
    belt = builders.belt(team, code="yongkang-hardware")
    builders.belt(other_team, code="wenzhou-shoes")
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    other_manager = builders.user("manager", leads=[other_team])
    almost = elementary_factory(belt, rep, NAME, now, left=("Shop opened",))
    live_db.commit()
    return {
        "rep": rep,
        "manager": manager,
        "other_manager": other_manager,
        "belt": belt,
        "factory": almost.id,
        "now": now,
    }


def factory_page(page: Page, factory_id: int) -> None:
    page.goto(f"/factories/{factory_id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_rep_ticks_the_last_item_requests_promotion_and_the_manager_approves(
    page, page_guard, live_db, world
):
    rep, manager = world["rep"], world["manager"]
    sign_in(page, rep.email)
    factory_page(page, world["factory"])
    eligibility = page.locator("#eligibility")
    expect(eligibility.get_by_role("heading", name="1 of 4 left:")).to_be_visible()
    expect(eligibility).to_contain_text("Shop opened: not done yet")
    row = page.locator("#checklist li", has_text="Shop opened")
    page_guard.check(page)
    page_guard.screenshot("promotion-path-rep-before-tick-390", page)

    row.get_by_role("button", name="Mark done").click()
    expect(page.get_by_text("Done: Shop opened.")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/factories/{world['factory']}#task-\d+$"))
    expect(eligibility.get_by_role("heading", name="Ready for Junior high")).to_be_visible()
    expect(page.locator("#checklist li", has_text="Shop opened")).to_contain_text("Done")
    expect(
        page.locator("#checklist li", has_text="Shop opened").get_by_role("button", name="Reopen")
    ).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("promotion-path-rep-ticked-390", page)

    page.get_by_label("Note for the manager (optional)").fill("店铺已开通，四项全部完成。")
    page.get_by_role("button", name="Request promotion to Junior high").click()
    expect(page.get_by_text("Promotion to Junior high requested.")).to_be_visible()
    page_guard.check(page)
    sign_out(page)

    sign_in(page, manager.email)
    page.goto("/pipeline/requests")
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    expect(page.get_by_text("Eligible: every required item is done")).to_be_visible()
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Send decision").click()
    expect(page.get_by_text(f"Approved: {NAME} moves up.")).to_be_visible()
    page_guard.check(page)

    factory_page(page, world["factory"])
    expect(page.locator(".factory-head").get_by_text("Junior high")).to_be_visible()
    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("Joins a Merchant Day promotion")
    expect(checklist).to_contain_text("Videos for the 10 best sellers")
    expect(checklist.get_by_role("button", name="Mark done")).to_have_count(1)
    promotion = page.locator("#history li", has_text="Elementary → Junior high")
    expect(promotion).to_contain_text("Approved")
    expect(promotion).to_contain_text(f"asked by {rep.name}")
    expect(promotion).to_contain_text(f"decided by {manager.name}")
    expect(promotion).to_contain_text("Why: 店铺已开通，四项全部完成。")
    page_guard.check(page)
    page_guard.screenshot("promotion-path-manager-promoted-390", page)

    live_db.rollback()  # end the test's read transaction: see what the server committed
    factory = live_db.get(Factory, world["factory"])
    assert factory.stage == "junior"
    junior = [task for task in factory_tasks(factory) if task.stage == "junior"]
    assert len(junior) == 5


@pytest.fixture
def waiting(live_db, world):
    """The factory's request for junior high, already made by its rep."""
    factory = live_db.get(Factory, world["factory"])
    for task in factory_tasks(factory):
        if task.kind != "measured":
            task.status = "done"
    change = promotions.request_change(
        world["rep"], factory, "active", "junior", "全部完成", world["now"]
    )
    live_db.commit()
    return change.id


def test_the_manager_refuses_with_a_reason_and_the_factory_stays(
    page, page_guard, live_db, world, waiting
):
    sign_in(page, world["manager"].email)
    page.goto("/pipeline/requests")
    page.get_by_label("Refuse").check()
    page.get_by_label("Note").fill("店铺照片不是实拍，请重拍。")
    page.get_by_role("button", name="Send decision").click()
    expect(page.get_by_text(f"Refused: {NAME} stays.")).to_be_visible()
    page_guard.check(page)

    factory_page(page, world["factory"])
    expect(page.locator(".factory-head").get_by_text("Elementary")).to_be_visible()
    refusal = page.locator("#history li", has_text="Elementary → Junior high")
    expect(refusal).to_contain_text("Refused")
    expect(refusal).to_contain_text("Decision: 店铺照片不是实拍，请重拍。")
    page_guard.check(page)
    live_db.rollback()
    assert live_db.get(Factory, world["factory"]).stage == "elementary"


def test_a_rep_cannot_approve_the_request(page, page_guard, live_db, world, waiting):
    page_guard.expect_console_error(r"status of 403")
    sign_in(page, world["rep"].email)
    factory_page(page, world["factory"])
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(
        f"/pipeline/requests/{waiting}/decide",
        form={"csrf_token": token or "", "decision": "approve", "note": ""},
    )
    assert answer.status == 403
    response = page.goto("/pipeline/requests")
    assert response is not None and response.status == 403
    page_guard.check(page)
    live_db.rollback()
    assert live_db.get(StageChange, waiting).decision == "pending"
    assert live_db.get(Factory, world["factory"]).stage == "elementary"


def test_a_manager_of_another_teams_belt_gets_404(page, page_guard, world):
    page_guard.expect_console_error(r"status of 404")
    sign_in(page, world["other_manager"].email)
    response = page.goto(f"/factories/{world['factory']}")
    assert response is not None and response.status == 404
    expect(page.get_by_text("Page not found")).to_be_visible()
    page_guard.check(page)


@pytest.fixture
def busy(live_db, world):
    """A second factory of the belt with every kind of row: evidence in, a shoot, a waiver."""
    factory = elementary_factory(
        world["belt"],
        world["rep"],
        "永康市金盛工贸有限公司",
        world["now"],
        left=(
            "Shop opened",
            "20 products listed with real photos",
            "First short video shot with the factory's staff",
        ),
    )
    live_db.flush()
    by_title = {task.title_en: task for task in factory_tasks(factory)}
    # Evidence as the factory's hand-in leaves it (set here: tests/live.py cannot yet empty
    # the audit entries of a factory user, whose deletion would null their actor).
    handed_in = by_title["20 products listed with real photos"]
    handed_in.status = "submitted"
    handed_in.evidence_link = (
        "https://detail.1688.example/offer/6123456789012345678901234567890.html"
    )
    handed_in.evidence_number = Decimal("20")
    handed_in.evidence_note = "二十款都用工厂实拍图。"
    by_title["First short video shot with the factory's staff"].shoot_on = world["now"].date()
    tasks.waive(
        world["manager"], by_title["A named person answers inquiries"], "老板亲自回复", world["now"]
    )
    live_db.commit()
    return factory.id


def test_the_managers_task_actions_on_a_phone(page, page_guard, live_db, world, busy):
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, world["manager"].email)
    factory_page(page, busy)
    evidence = page.locator("#checklist li", has_text="20 products listed")
    link = evidence.get_by_role("link", name=re.compile("detail.1688.example"))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(evidence.get_by_role("button", name="Accept")).to_be_visible()
    waived = page.locator("#checklist li", has_text="A named person answers inquiries")
    expect(waived).to_contain_text("Waived: 老板亲自回复")
    shop = page.locator("#checklist li", has_text="Shop opened")
    shop.locator("summary", has_text="More").click()
    expect(shop.get_by_label("Why is it waived?")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("task-actions-manager-390", page)

    shop.get_by_role("button", name="Waive").click()
    shop = page.locator("#checklist li", has_text="Shop opened")
    expect(shop.get_by_text("Say why this item is waived.")).to_be_visible()
    expect(shop.get_by_label("Why is it waived?")).to_be_focused()
    page_guard.check(page)
    page_guard.screenshot("task-actions-waive-refused-390", page)

    evidence = page.locator("#checklist li", has_text="20 products listed")
    evidence.locator("summary", has_text="More").click()
    evidence.get_by_label("What should the factory change?").fill("第3款是效果图，请换实拍。")
    evidence.get_by_role("button", name="Send back").click()
    expect(page.get_by_text("Sent back to the factory: 20 products listed")).to_be_visible()
    expect(page.locator("#checklist li", has_text="20 products listed")).to_contain_text(
        "Sent back: 第3款是效果图，请换实拍。"
    )
    page_guard.check(page)
    page_guard.screenshot("task-actions-sent-back-390", page)

    video = page.locator("#checklist li", has_text="First short video")
    video.locator("summary", has_text="Shoot date and link").click()
    video.get_by_label("Video link").fill("https://video.example.test/v/42")
    page_guard.screenshot("task-actions-video-form-390", page)
    video.get_by_role("button", name="Save video shoot").click()
    expect(page.get_by_text("Video shoot saved: First short video")).to_be_visible()
    video = page.locator("#checklist li", has_text="First short video")
    expect(video.locator(".badge")).to_have_text("Done")
    link = video.get_by_role("link", name="https://video.example.test/v/42")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    page_guard.check(page)
    live_db.rollback()
    shoot = next(t for t in factory_tasks(live_db.get(Factory, busy)) if t.kind == "video_shoot")
    assert shoot.status == "done" and shoot.video_url == "https://video.example.test/v/42"


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1280"])
def test_the_task_rows_on_a_desk(page, page_guard, world, busy, viewport):
    sign_in(page, world["manager"].email)
    factory_page(page, busy)
    shop = page.locator("#checklist li", has_text="Shop opened")
    shop.locator("summary", has_text="More").click()
    expect(shop.get_by_label("Why is it waived?")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("task-actions-manager-1280", page)
