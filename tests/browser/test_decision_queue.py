"""The decision queue at a manager's desk (issue 21, point 1): a card's error stays on its card,
an ineligible request is approved as an override from its card, and bulk approval counts the
ticked cards and names them before anything changes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.clock import now
from crm.models import Factory, StageChange, Task
from crm.services.growth import promotions, stages
from tests import builders
from tests.browser.guard import ARTIFACTS, DESKTOP, PHONE, moved_by_layout_shifts
from tests.browser.test_homes import sign_in

NAMES = [
    "永康市恒达五金制品有限公司",
    "Anji Bamboo Works",
    "Wuyi Cups Ltd.",
    "Jinhua Pans Co.",
    "Yiwu Brushes Co.",
    "Lanxi Locks Ltd.",
]


@pytest.fixture
def queue(live_db):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    changes = []
    for n, name in enumerate(NAMES):
        factory = builders.factory(belt, owner=rep, stage="elementary", name=name)
        stages.create_stage_tasks(factory, "elementary", now())
        tasks = list(live_db.scalars(select(Task).where(Task.factory_id == factory.id)))
        for task in tasks:
            task.status = "done"
        tasks[0].evidence_note = "门店照片六张"
        asked = now() - timedelta(hours=len(NAMES) - n)  # the first waited longest
        changes.append(
            promotions.request_change(rep, factory, "active", "junior", f"{name}: 都已完成", asked)
        )
    # The last factory stops qualifying after its rep asked: one of its tasks is open again.
    reopened = live_db.scalars(select(Task).where(Task.factory_id == changes[-1].factory_id))
    reopened.first().status = "open"
    manager = builders.user("manager", leads=[team])
    live_db.commit()
    return {"manager": manager.email, "changes": [change.id for change in changes]}


def card(page, change_id: int):
    return page.locator(f"#change-{change_id}")


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1280"])
def test_a_note_without_a_choice_stays_on_its_card(page, page_guard, live_db, queue):
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, queue["manager"])
    page.goto("/pipeline/requests")
    fourth = card(page, queue["changes"][3])
    fourth.get_by_label("Note").fill("照片不是实拍，请重拍")
    fourth.get_by_role("button", name="Send decision").click()
    fourth = card(page, queue["changes"][3])
    alert = fourth.locator(".decision-alert")
    expect(alert).to_be_visible()
    expect(alert).to_be_in_viewport()  # the page opens at the card, not at the top
    expect(fourth.get_by_text("Choose approve or refuse.")).to_be_visible()
    expect(fourth.get_by_label("Note")).to_have_value("照片不是实拍，请重拍")
    assert page.evaluate("() => window.scrollY") > 0
    page.screenshot(path=str(ARTIFACTS / "decision-queue-card-error-1280.png"))
    # Every other card is as it was: no note, no choice, no error.
    for change_id in queue["changes"]:
        if change_id == queue["changes"][3]:
            continue
        other = card(page, change_id)
        expect(other.get_by_label("Note")).to_have_value("")
        expect(other.locator("input[type=radio]:checked")).to_have_count(0)
        expect(other.locator(".error, .decision-alert")).to_have_count(0)
    page_guard.check(page)
    live_db.rollback()  # end the test's read transaction: see what the server committed
    pending = live_db.scalars(select(StageChange.decision).where(StageChange.decision != "pending"))
    assert list(pending) == []


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1280"])
def test_an_ineligible_request_is_approved_as_an_override(page, page_guard, live_db, queue):
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, queue["manager"])
    page.goto("/pipeline/requests")
    last = card(page, queue["changes"][-1])
    expect(last.get_by_text(re.compile(r"^1 of \d+ required items left:$"))).to_be_visible()
    last.get_by_label("Approve", exact=True).check()
    last.get_by_role("button", name="Send decision").click()
    last = card(page, queue["changes"][-1])
    refusal = "This move is an override: tick override and give the reason."
    expect(last.get_by_text(refusal)).to_be_visible()
    last.get_by_label("Approve", exact=True).check()
    last.get_by_label("Override: approve although the factory does not qualify now").check()
    last.get_by_label("Note").fill("Checked the shop on site myself")
    last.get_by_role("button", name="Send decision").click()
    expect(page.get_by_text(f"Approved: {NAMES[-1]} moves up.")).to_be_visible()
    expect(card(page, queue["changes"][-1])).to_have_count(0)
    page_guard.check(page)
    live_db.rollback()
    change = live_db.get(StageChange, queue["changes"][-1])
    assert change.decision == "approved" and change.is_override
    assert live_db.get(Factory, change.factory_id).stage == "junior"


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["1280"])
def test_bulk_approval_counts_the_ticked_and_confirms_them_by_name(
    page, page_guard, live_db, queue
):
    sign_in(page, queue["manager"])
    page.goto("/pipeline/requests")
    bulk = page.locator("#bulk-approve")
    submit = bulk.locator("[data-bulk-submit]")
    expect(submit).to_have_text("Approve the ticked requests")
    expect(submit).to_be_disabled()
    expect(page.locator('input[name="change_ids"]:checked')).to_have_count(0)
    # The ineligible request has no box: bulk approval takes eligible ones only.
    expect(card(page, queue["changes"][-1]).locator('input[name="change_ids"]')).to_have_count(0)
    # The ticking buttons come to life in their place: the Approve button does not move.
    expect(bulk.get_by_role("button", name="Untick all")).to_be_enabled()
    assert moved_by_layout_shifts(page, "Approve the ticked requests") == []
    bulk.get_by_role("button", name="Tick all eligible").click()
    expect(submit).to_have_text("Approve 5 ticked")
    bulk.get_by_role("button", name="Untick all").click()
    expect(submit).to_have_text("Approve the ticked requests")
    for change_id in queue["changes"][1:3]:
        card(page, change_id).get_by_label("Include in the bulk approval").check()
    expect(submit).to_have_text("Approve 2 ticked")
    page_guard.check(page)
    submit.click()
    expect(page.get_by_role("heading", name="2 factories move up one stage:")).to_be_visible()
    expect(page.get_by_role("link", name=NAMES[1])).to_be_visible()
    expect(page.get_by_role("link", name=NAMES[2])).to_be_visible()
    expect(page.get_by_role("link", name=NAMES[0])).to_have_count(0)
    page_guard.check(page)
    page_guard.screenshot("decision-queue-confirm-1280", page)
    live_db.rollback()
    decided = select(StageChange.id).where(StageChange.decision != "pending")
    assert live_db.scalars(decided).all() == []  # nothing changed before the confirmation
    page.get_by_role("button", name="Yes, approve 2 requests").click()
    expect(page.get_by_text("Approved 2 requests.")).to_be_visible()
    page_guard.check(page)
    live_db.rollback()
    decided = live_db.scalars(
        select(StageChange.id).where(StageChange.decision == "approved").order_by(StageChange.id)
    ).all()
    assert decided == queue["changes"][1:3]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_queue_on_a_phone_and_at_a_desk(page, page_guard, live_db, queue, language, viewport):
    sign_in(page, queue["manager"])
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto("/pipeline/requests")
    expect(card(page, queue["changes"][0])).to_be_visible()
    # The filters fold away on a phone (the first card comes up sooner); a desk shows them.
    belt = page.locator(".queue-filters select[name=belt]")
    if viewport is PHONE:
        expect(belt).to_be_hidden()
        page.locator(".queue-filters summary").click()
    expect(belt).to_be_visible()
    page_guard.check(page)
    name = f"decision-queue-{viewport['width']}-{language}"
    page_guard.screenshot(name, page)
    page.screenshot(path=str(ARTIFACTS / f"{name}-fold.png"))
