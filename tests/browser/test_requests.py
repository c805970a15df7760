"""A manager decides stage-change requests on phone and desk: approve, or refuse with a reason."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.clock import now
from crm.models import Factory, Task
from crm.services.growth import promotions, stages
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in


@pytest.fixture
def request_waiting(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(
        builders.belt(team), owner=rep, stage="elementary", name="永康市恒达五金制品有限公司"
    )
    stages.create_stage_tasks(factory, "elementary", now())
    for task in live_db.scalars(select(Task).where(Task.factory_id == factory.id)):
        task.status = "done"
    promotions.request_change(rep, factory, "active", "junior", "开店、上新、视频都已完成", now())
    manager = builders.user("manager", leads=[team])
    live_db.commit()
    return {"manager": manager.email, "factory_id": factory.id}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_manager_approves_a_request(page, page_guard, live_db, request_waiting, viewport):
    sign_in(page, request_waiting["manager"])
    page.get_by_role("link", name="Decide now").click()
    expect(page.get_by_role("heading", name="永康市恒达五金制品有限公司")).to_be_visible()
    expect(page.get_by_text("Eligible: every required item is done")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"manager-requests-{viewport['width']}", page)
    page.get_by_label("Approve").check()
    page.get_by_role("button", name="Send decision").click()
    expect(page.get_by_text("Approved: 永康市恒达五金制品有限公司 moves up.")).to_be_visible()
    page_guard.check(page)
    live_db.rollback()  # end the test's read transaction: see what the server committed
    assert live_db.get(Factory, request_waiting["factory_id"]).stage == "junior"


def test_a_refusal_without_a_reason_shows_the_message_by_the_field(
    page, page_guard, live_db, request_waiting
):
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, request_waiting["manager"])
    page.goto("/pipeline/requests")
    page.get_by_label("Refuse").check()
    page.get_by_role("button", name="Send decision").click()
    expect(page.get_by_text("Say why the request is refused.")).to_be_visible()
    page_guard.check(page)
    page.get_by_label("Refuse").check()
    page.get_by_label("Note").fill("店铺照片不是实拍")
    page.get_by_role("button", name="Send decision").click()
    expect(page.get_by_text("Refused: 永康市恒达五金制品有限公司 stays.")).to_be_visible()
    live_db.rollback()  # end the test's read transaction: see what the server committed
    assert live_db.get(Factory, request_waiting["factory_id"]).stage == "elementary"
