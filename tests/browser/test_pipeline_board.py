"""The pipeline board on a laptop and a tablet: drag a card or use its menu, and the move dialog
asks before anything moves; the promotions queue approves the eligible requests in bulk."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.clock import now
from crm.models import Factory, StageChange, Task, User
from crm.services.growth import promotions, stages
from tests import builders
from tests.browser.guard import DESKTOP
from tests.browser.test_homes import sign_in

TABLET = {"width": 1024, "height": 1366}
ELIGIBLE = "永康市恒达五金制品有限公司"
OTHER = "宁波市海曙区东方模具厂"


@pytest.fixture
def board_world(live_db):
    team = builders.team("宁波与永康")
    belt = builders.belt(team, code="yongkang-hardware")
    rep = builders.user("rep", team_=team)
    eligible = builders.factory(belt, owner=rep, stage="elementary", name=ELIGIBLE, category="五金")
    stages.create_stage_tasks(eligible, "elementary", now())
    for task in live_db.scalars(select(Task).where(Task.factory_id == eligible.id)):
        task.status = "done"
    eligible.eligible_since = now()
    other = builders.factory(belt, owner=rep, stage="elementary", name=OTHER)
    stages.create_stage_tasks(other, "elementary", now())
    builders.factory(belt, status="prospect", name="Prospect Tools Co.")
    for stage in ("junior", "senior", "university"):
        builders.factory(belt, owner=rep, stage=stage, name=f"永康市{stage}五金制品有限公司")
    builders.factory(belt, owner=rep, status="paused", name="Paused Castings Ltd.")
    manager = builders.user("manager", leads=[team])
    live_db.commit()
    return {
        "manager": manager.email,
        "rep": rep.email,
        "eligible_id": eligible.id,
        "other_id": other.id,
        "belt_id": belt.id,
    }


def card(page, name: str):
    return page.locator(".board-card", has=page.get_by_role("link", name=name, exact=True))


def column(page, code: str):
    return page.locator(f'.board-cards[data-column="{code}"]')


def drag(page, source, target) -> None:
    """A drag by mouse, in small steps as a hand makes it (SortableJS's fallback mode)."""
    source.scroll_into_view_if_needed()
    start = source.bounding_box()
    end = target.bounding_box()
    x, y = start["x"] + 24, start["y"] + 12
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 12, y + 8, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 40, steps=20)
    page.wait_for_timeout(150)
    page.mouse.up()


def stage_of(live_db, factory_id: int) -> tuple[str, str | None]:
    live_db.rollback()  # end the test's read transaction: see what the server committed
    factory = live_db.get(Factory, factory_id)
    return factory.status, factory.stage


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["laptop", "tablet"])
def test_board_shows_columns_and_a_card_moves_by_its_menu(
    page, page_guard, live_db, board_world, viewport
):
    sign_in(page, board_world["manager"])
    page.goto("/pipeline/board")
    expect(page.get_by_role("heading", name="Pipeline board", level=1)).to_be_visible()
    expect(page.locator("#board-count-elementary")).to_have_text("2")
    expect(card(page, ELIGIBLE).get_by_text("Ready to promote")).to_be_visible()
    expect(card(page, ELIGIBLE).get_by_text("4 of 4 required done")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"pipeline-board-{viewport['width']}", page)

    card(page, ELIGIBLE).get_by_role("link", name=f"Move {ELIGIBLE}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Move it to:")).to_be_visible()
    dialog.get_by_role("link", name="Junior high").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Eligible: every required item is done")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"pipeline-board-dialog-{viewport['width']}", page)
    dialog.get_by_role("button", name="Move").click()
    expect(page.get_by_text(f"Moved: {ELIGIBLE} is in Junior high now.")).to_be_visible()
    expect(column(page, "junior").get_by_role("link", name=ELIGIBLE, exact=True)).to_be_visible()
    page_guard.check(page)
    assert stage_of(live_db, board_world["eligible_id"]) == ("active", "junior")


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["laptop", "tablet"])
def test_dragging_a_card_opens_the_dialog_and_nothing_moves_until_confirmed(
    page, page_guard, live_db, board_world, viewport
):
    sign_in(page, board_world["manager"])
    page.goto("/pipeline/board")
    expect(page.locator("[data-board].board-draggable")).to_be_visible()
    drag(page, card(page, OTHER), column(page, "junior"))
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Not eligible yet: 4 of 4 required items left:")).to_be_visible()
    # The card went back to its column: the drop alone changed nothing.
    expect(column(page, "elementary").get_by_role("link", name=OTHER, exact=True)).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"pipeline-board-drag-{viewport['width']}", page)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert stage_of(live_db, board_world["other_id"]) == ("active", "elementary")

    # Again, and this time confirm the override with its reason; a missing reason is told.
    page_guard.expect_console_error(r"status of 422")
    drag(page, card(page, OTHER), column(page, "junior"))
    expect(dialog).to_be_visible()
    dialog.get_by_label("Override: I make this move although it does not qualify").check()
    dialog.get_by_role("button", name="Move").click()
    expect(dialog.get_by_text("An override needs a reason.")).to_be_visible()
    dialog.get_by_label("Reason (needed for an override)").fill("店铺已开，资料补交中")
    dialog.get_by_role("button", name="Move").click()
    expect(page.get_by_text(f"Moved: {OTHER} is in Junior high now.")).to_be_visible()
    page_guard.check(page)
    assert stage_of(live_db, board_world["other_id"]) == ("active", "junior")
    live_db.rollback()
    change = live_db.scalar(
        select(StageChange).where(StageChange.factory_id == board_world["other_id"])
    )
    assert change.is_override and change.reason == "店铺已开，资料补交中"


def test_filters_live_in_the_url_and_a_shared_link_shows_the_same_board(
    page, page_guard, board_world
):
    page.set_viewport_size(DESKTOP)
    sign_in(page, board_world["manager"])
    page.goto("/pipeline/board")
    page.get_by_label("Needs attention").select_option("eligible")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"flag=eligible"))
    expect(page.locator(".board-card")).to_have_count(1)
    shared = page.url
    page.goto("/pipeline/")
    page.goto(shared)
    expect(page.locator(".board-card")).to_have_count(1)
    expect(page.get_by_text("1 filter on")).to_be_visible()
    page_guard.check(page)


def test_a_move_tapped_before_the_board_script_arrives_still_opens_the_dialog(
    page, page_guard, board_world
):
    # app.js imports board.js while the page loads, and on a slow network a tap comes first.
    page_guard.expect_console_error(r"ERR_FAILED|error occurred when fetching the script")
    page.set_viewport_size(DESKTOP)
    # No service worker here: it would answer from its cache, which no route sees.
    page_guard.context.route("**/sw.js", lambda route: route.abort())
    held = []

    def hold_on_the_board(route):
        # Only the board's own request: the page signing in led to may fetch board.js too.
        if page.url.endswith("/pipeline/board"):
            held.append(route)
        else:
            route.continue_()

    sign_in(page, board_world["manager"])
    # The page signing in led to has loaded its modules before the board is held: under load
    # its navigation could still be under way when the board was asked for (two held).
    expect(page).to_have_url(re.compile(r"/pipeline/?$"))
    page.wait_for_selector("html[data-modules=ready]", state="attached")
    page_guard.context.route("**/js/board.js", hold_on_the_board)
    page.goto("/pipeline/board")
    card(page, ELIGIBLE).get_by_role("link", name=f"Move {ELIGIBLE}").click()
    expect(page.locator("#board-dialog-body").get_by_text("Move it to:")).to_be_attached()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert len(held) == 1
    held[0].continue_()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Move it to:")).to_be_visible()
    expect(page.locator("[data-board].board-draggable")).to_have_count(1)
    page_guard.check(page)


def test_a_rep_s_move_is_a_request(page, page_guard, live_db, board_world):
    page.set_viewport_size(DESKTOP)
    sign_in(page, board_world["rep"])
    page.goto("/pipeline/board")
    card(page, ELIGIBLE).get_by_role("link", name=f"Move {ELIGIBLE}").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("Move it to:")).to_be_visible()
    dialog.get_by_role("link", name="Junior high").click()
    expect(dialog.get_by_text("This sends a request")).to_be_visible()
    dialog.get_by_label("Note for the manager (optional)").fill("五项都完成了")
    dialog.get_by_role("button", name="Send request").click()
    expect(page.get_by_text(f"Requested: {ELIGIBLE} to Junior high.")).to_be_visible()
    page_guard.check(page)
    assert stage_of(live_db, board_world["eligible_id"]) == ("active", "elementary")


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["laptop", "tablet"])
def test_the_queue_approves_the_eligible_requests_in_bulk(
    page, page_guard, live_db, board_world, viewport
):
    rep = live_db.scalar(select(Factory).where(Factory.id == board_world["eligible_id"])).owner
    factory = live_db.get(Factory, board_world["eligible_id"])
    promotions.request_change(rep, factory, "active", "junior", "开店、上新、视频都已完成", now())
    live_db.commit()
    sign_in(page, board_world["manager"])
    page.goto("/pipeline/requests")
    # Nothing is ticked until the manager ticks it; the next page names it before it moves.
    expect(page.get_by_role("checkbox", name="Include in the bulk approval")).not_to_be_checked()
    page.get_by_role("checkbox", name="Include in the bulk approval").check()
    page_guard.check(page)
    page_guard.screenshot(f"pipeline-queue-{viewport['width']}", page)
    page.get_by_role("button", name="Approve 1 ticked").click()
    page.get_by_role("button", name="Yes, approve 1 request").click()
    expect(page.get_by_text("Approved 1 request.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for your decision")).to_be_visible()
    page_guard.check(page)
    assert stage_of(live_db, board_world["eligible_id"]) == ("active", "junior")


@pytest.fixture
def manager_pages_world(live_db, board_world):
    """History for the reports and the team page: visits, a promotion, figures."""
    from datetime import date, timedelta

    from crm.models import MetricSnapshot

    factory = live_db.get(Factory, board_world["eligible_id"])
    rep = factory.owner
    manager = live_db.scalar(select(User).where(User.email == board_world["manager"]))
    promotions.change_directly(manager, factory, "active", "junior", "", False, now())
    for days in (1, 3, 9, 15, 22, 30):
        builders.visit(factory, rep, checked_in_at=now() - timedelta(days=days), off_site=days == 9)
    junior = live_db.scalar(select(Factory).where(Factory.name == "永康市junior五金制品有限公司"))
    stages.create_stage_tasks(junior, "junior", now())
    month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    live_db.add(
        MetricSnapshot(factory=junior, metric_code="response_3min_rate", month=month, value=85)
    )
    live_db.commit()
    return board_world


@pytest.mark.parametrize("viewport", [DESKTOP, TABLET], ids=["laptop", "tablet"])
@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/pipeline/stuck", "Stuck factories"),
        ("/pipeline/team", "Team"),
        ("/pipeline/reports", "Reports"),
        ("/pipeline/reassign", "Reassign and bulk edit"),
        ("/pipeline/", "Pipeline"),
    ],
)
def test_manager_pages_pass_the_guard(
    page, page_guard, manager_pages_world, viewport, path, heading
):
    sign_in(page, manager_pages_world["manager"])
    page.goto(path)
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    page_guard.check(page)
    name = path.strip("/").replace("/", "-") or "pipeline"
    page_guard.screenshot(f"{name}-{viewport['width']}", page)


def test_one_click_visit_from_the_stuck_list(page, page_guard, manager_pages_world):
    page.set_viewport_size(DESKTOP)
    sign_in(page, manager_pages_world["manager"])
    page.goto("/pipeline/stuck?kind=stale")
    row = page.locator(".stuck-row", has=page.get_by_role("link", name=OTHER, exact=True))
    row.get_by_role("button", name="In 3 days").click()
    expect(page.get_by_text(re.compile(f"Visit planned for {OTHER} on"))).to_be_visible()
    expect(page).to_have_url(re.compile(r"kind=stale"))
    page_guard.check(page)


def test_a_rep_s_board_on_a_phone_scrolls_only_inside_its_lanes(page, page_guard, board_world):
    sign_in(page, board_world["rep"])
    page.goto("/pipeline/board")
    expect(page.get_by_role("heading", name="Pipeline board", level=1)).to_be_visible()
    page_guard.check(page)  # includes: the page itself does not scroll sideways
    page_guard.screenshot("pipeline-board-rep-390", page)
