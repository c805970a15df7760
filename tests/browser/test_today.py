"""A rep's Today on a phone and a desk: overdue first, Done, Move, "Near me" and the day's route
with their maps (an inline SVG, and the admin's tiles from a server on this machine)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.models import Factory, FollowUp
from crm.services.install import settings
from tests import builders
from tests.browser.guard import DESKTOP, PHONE, moved_by_layout_shifts
from tests.browser.test_homes import sign_in
from tests.browser.test_sign_in import calm_now

HERE = {"latitude": 29.8705, "longitude": 121.5505}


def working_day(day):
    """The first day from `day` on that is not a Saturday or Sunday: where a due date lands in
    a database whose calendar holds no holidays (crm.services.calendar.working_days)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def rep_day(app, live_db):
    zone = ZoneInfo(app.config["CRM_TIMEZONE"])
    now, midnight = calm_now(zone)
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    near = builders.factory(belt, owner=rep, name="宁波明亮五金有限公司", lat=29.8706, lng=121.5506)
    far = builders.factory(
        belt, owner=rep, stage="senior", name="Yongkang Hengda Hardware", lat=29.95, lng=121.70
    )
    prospect = builders.factory(belt, status="prospect", name="Cixi Small Appliances")
    overdue = builders.follow_up(far, rep, now - timedelta(days=1), reason="Send the price list")
    today = builders.follow_up(near, rep, now + (midnight - now) / 2, reason="Check shop photos")
    coming = builders.follow_up(
        prospect, rep, now + timedelta(days=2), reason="First visit: meet the owner"
    )
    live_db.commit()
    return {
        "rep": rep.email,
        "overdue": overdue.id,
        "today": today.id,
        "coming": coming.id,
        "near": near.id,
        "far": far.id,
        "zone": zone,
        "local_today": now.astimezone(zone).date(),
    }


def row(page, follow_up_id: int):
    return page.locator(f"#follow-up-{follow_up_id}")


def move(target, day, *, opened: bool = False) -> None:
    """Move a row's follow-up to a day: open its Move panel, pick the date, tap Move."""
    if not opened:
        target.locator("summary").click()
    target.get_by_label("New date").fill(day.isoformat())
    target.get_by_role("button", name="Move", exact=True).click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_rep_works_through_today_overdue_first(page, page_guard, live_db, rep_day, viewport):
    sign_in(page, rep_day["rep"])
    expect(page).to_have_url(re.compile(r"/today$"))
    counts = page.get_by_role("list", name="Follow-ups").get_by_role("listitem")
    expect(counts).to_have_text(["1 overdue", "1 today", "1 next 7 days"])
    headings = page.locator(".agenda h2")
    expect(headings).to_have_text(["Overdue", "Due today", "Next days"])
    first = page.locator(".today-row").first
    expect(first).to_contain_text("Yongkang Hengda Hardware")
    expect(first).to_contain_text("High school")
    expect(first.get_by_role("link", name="Check in")).to_have_attribute(
        "href", f"/visit?factory={rep_day['far']}"
    )
    page_guard.check(page)
    page_guard.screenshot(f"today-{viewport['width']}", page)

    # Done: the overdue one leaves the list, and the count says so.
    row(page, rep_day["overdue"]).get_by_role("button", name="Done").click()
    expect(page.get_by_text("Follow-up done: Yongkang Hengda Hardware.")).to_be_visible()
    expect(counts).to_have_text(["0 overdue", "1 today", "1 next 7 days"])
    page_guard.check(page)

    # Move: today's one goes ten days on, past the agenda's week.
    coming_row = row(page, rep_day["today"])
    coming_row.locator("summary").click()
    page_guard.check(page)
    page_guard.screenshot(f"today-move-{viewport['width']}", page)
    day = working_day(rep_day["local_today"] + timedelta(days=10))
    move(coming_row, day, opened=True)
    expect(
        page.get_by_text(re.compile("Follow-up moved to .*宁波明亮五金有限公司"))
    ).to_be_visible()
    expect(counts).to_have_text(["0 overdue", "0 today", "1 next 7 days"])
    page_guard.check(page)

    live_db.rollback()  # end the test's read transaction: see what the server committed
    assert live_db.get(FollowUp, rep_day["overdue"]).status == "done"
    moved = live_db.get(FollowUp, rep_day["today"])
    local = moved.due_at.astimezone(rep_day["zone"])
    assert moved.status == "open" and local.date() == day and local.hour == 10
    assert live_db.get(Factory, rep_day["near"]).next_follow_up_at == moved.due_at


def test_a_past_date_is_refused_by_the_field(page, page_guard, live_db, rep_day):
    page_guard.expect_console_error(r"status of 422")
    sign_in(page, rep_day["rep"])
    target = row(page, rep_day["coming"])
    target.locator("summary").click()
    target.get_by_label("New date").fill("2020-01-01")
    target.get_by_role("button", name="Move", exact=True).click()
    # The refusal stays by its row, with the server's reason, until it is dropped.
    note = target.get_by_role("status")
    expect(note).to_contain_text("Not saved: Pick today or a later date")
    expect(target.get_by_label("New date")).to_have_attribute("aria-invalid", "true")
    page_guard.check(page)
    page_guard.screenshot("today-move-refused-390", page)
    live_db.rollback()
    assert live_db.get(FollowUp, rep_day["coming"]).due_at.year != 2020


def test_cancel_asks_first_about_the_rows_own_factory(page, page_guard, live_db, rep_day):
    sign_in(page, rep_day["rep"])
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    page.on("dialog", answer)
    target = row(page, rep_day["today"])
    target.locator("summary").click()
    target.get_by_role("button", name="Cancel follow-up").click()  # dismissed: nothing sent
    page.wait_for_timeout(300)
    expect(target).to_be_visible()
    target.get_by_role("button", name="Cancel follow-up").click()
    expect(page.get_by_text("Follow-up cancelled: 宁波明亮五金有限公司.")).to_be_visible()
    assert asked == ["Cancel this follow-up at 宁波明亮五金有限公司?"] * 2
    page_guard.check(page)
    live_db.rollback()
    assert live_db.get(FollowUp, rep_day["today"]).status == "cancelled"
    assert live_db.get(FollowUp, rep_day["overdue"]).status == "open"


def test_done_move_and_cancel_work_without_javascript(browser, live_server, live_db, rep_day):
    context = browser.new_context(viewport=PHONE, base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(5_000)
    try:
        page = context.new_page()
        sign_in(page, rep_day["rep"])
        row(page, rep_day["overdue"]).get_by_role("button", name="Done").click()
        expect(page.get_by_text("Follow-up done: Yongkang Hengda Hardware.")).to_be_visible()
        day = working_day(rep_day["local_today"] + timedelta(days=9))
        move(row(page, rep_day["coming"]), day)
        expect(page.get_by_text(re.compile("moved to .*Cixi Small Appliances"))).to_be_visible()
        cancelling = row(page, rep_day["today"])
        cancelling.locator("summary").click()
        cancelling.get_by_role("button", name="Cancel follow-up").click()
        expect(page.get_by_text("Follow-up cancelled: 宁波明亮五金有限公司.")).to_be_visible()
    finally:
        context.close()
    live_db.rollback()
    assert live_db.get(FollowUp, rep_day["overdue"]).status == "done"
    assert live_db.get(FollowUp, rep_day["today"]).status == "cancelled"
    moved = live_db.get(FollowUp, rep_day["coming"])
    assert moved.status == "open" and moved.due_at.astimezone(rep_day["zone"]).date() == day


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_near_me_lists_the_nearest_factory_first(page, page_guard, rep_day, viewport):
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, rep_day["rep"])
    page.get_by_role("button", name="Near me").click()
    places = page.locator(".today-near-row")
    expect(places).to_have_count(2)  # the prospect has no location on record
    expect(places.first).to_contain_text("宁波明亮五金有限公司")
    expect(places.first).to_contain_text("10 m")
    expect(places.nth(1)).to_contain_text("Yongkang Hengda Hardware")
    expect(places.nth(1)).to_contain_text("km")
    expect(places.first.get_by_role("link", name="Check in")).to_have_attribute(
        "href", f"/visit?factory={rep_day['near']}"
    )
    page_guard.check(page)
    page_guard.screenshot(f"today-near-{viewport['width']}", page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_todays_buttons_stay_where_they_are_when_near_me_comes_to_life(
    page, page_guard, rep_day, viewport
):
    """Near me works once its script has loaded. It used to appear then, between Add a factory
    and Plan my route, and pushed Plan my route aside under the rep's thumb: a tap meant for
    the route opened Near me (the clean clone's CI caught it as a flaky browser test)."""
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, rep_day["rep"])
    page.goto("/today")
    expect(page.get_by_role("button", name="Near me")).to_be_enabled()
    assert moved_by_layout_shifts(page, "Add a factory", "Near me", "Plan my route") == []
    page_guard.check(page)
    page_guard.screenshot(f"today-head-{viewport['width']}", page)


def test_near_me_without_permission_says_how_to_allow_it(page, page_guard, rep_day):
    sign_in(page, rep_day["rep"])
    page.get_by_role("button", name="Near me").click()
    expect(page.get_by_role("alert")).to_contain_text("Location is off for this site.")
    page_guard.check(page)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_factory_page_plans_a_follow_up_with_one_tap(page, page_guard, live_db, rep_day, viewport):
    sign_in(page, rep_day["rep"])
    page.goto(f"/factories/{rep_day['far']}")
    reach = page.locator("#reach")
    reach.get_by_text("Plan another follow-up").click()
    page_guard.check(page)
    page_guard.screenshot(f"factory-follow-up-{viewport['width']}", page)
    reach.get_by_label("Reason").fill("Bring the video crew")
    reach.get_by_role("button", name="In 1 week").click()
    expect(
        page.get_by_text(re.compile("Follow-up set for .*Yongkang Hengda Hardware"))
    ).to_be_visible()
    page_guard.check(page)
    live_db.rollback()
    planned = live_db.scalars(
        select(FollowUp).where(FollowUp.reason == "Bring the video crew", FollowUp.status == "open")
    ).one()
    assert planned.factory_id == rep_day["far"]
    local = planned.due_at.astimezone(rep_day["zone"])
    assert local.date() == working_day(rep_day["local_today"] + timedelta(days=7))
    assert local.hour == 10


# --- maps and the day's route -------------------------------------------------------------------

# A 1 × 1 grey PNG: what the local tile server answers for every tile.
TILE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a0a70000000049454e44ae426082"
)


@pytest.fixture
def route_day(app, live_db):
    """Due today or overdue, on one parallel east of HERE: Far 0.04°, Mid 0.01°, Close 0.005°."""
    zone = ZoneInfo(app.config["CRM_TIMEZONE"])
    now, midnight = calm_now(zone)
    later = now + (midnight - now) / 2
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    lat = HERE["latitude"]
    far = builders.factory(belt, owner=rep, name="Far Fasteners", lat=lat, lng=121.5905)
    mid = builders.factory(belt, owner=rep, name="Middle Mould Works", lat=lat, lng=121.5605)
    close = builders.factory(belt, owner=rep, name="Close Casting", lat=lat, lng=121.5555)
    unplaced = builders.factory(belt, owner=rep, name="Unplaced Plastics")
    builders.follow_up(far, rep, now - timedelta(days=1), reason="Overdue")
    for factory in (mid, close, unplaced):
        builders.follow_up(factory, rep, later)
    live_db.commit()
    return {"rep": rep.email, "close": close.id}


def map_numbers(panel) -> list[str]:
    return panel.locator("svg .field-map-point text").all_text_contents()


def assert_map_fits(page, panel) -> None:
    box = panel.locator("svg.field-map-svg").bounding_box()
    width = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert box["height"] > 150  # legible, not squashed


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_near_me_shows_a_map_numbered_as_the_list(page, page_guard, route_day, viewport):
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, route_day["rep"])
    page.get_by_role("button", name="Near me").click()
    panel = page.locator("#near")
    places = panel.locator(".today-near-row")
    expect(places).to_have_count(3)
    expect(places).to_contain_text(["Close Casting", "Middle Mould Works", "Far Fasteners"])
    expect(places.locator(".field-map-number")).to_have_text(["1", "2", "3"])
    expect(panel.get_by_role("group", name=re.compile("Map of where you are"))).to_be_visible()
    assert map_numbers(panel) == ["3", "2", "1"]
    for n, name in enumerate(["Close Casting", "Middle Mould Works", "Far Fasteners"], 1):
        point = panel.locator(f"svg #near-map-{n}")
        expect(point).to_have_accessible_name(f"{n} {name}")
    expect(panel.locator("svg .field-map-scale-label")).to_have_text(re.compile(r"^\d+ (m|km)$"))
    expect(panel.locator("svg image")).to_have_count(0)  # no tiles configured: nothing loads
    assert_map_fits(page, panel)
    page_guard.check(page)
    page_guard.screenshot(f"today-near-map-{viewport['width']}", page)


@pytest.fixture
def tile_server():
    """A tile server on this machine (another origin than the app): every path is a PNG."""
    asked: list[str] = []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(TILE_PNG)))
            self.end_headers()
            self.wfile.write(TILE_PNG)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_configured_tiles_load_beneath_the_points_from_that_host_only(
    page, page_guard, live_db, route_day, tile_server
):
    origin, asked = tile_server
    settings.put(builders.user("admin"), "map_tile_url", origin + "/tiles/{z}/{x}/{y}.png")
    live_db.commit()
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, route_day["rep"])
    page.get_by_role("link", name="Plan my route").click()
    page.get_by_role("button", name="Plan the route").click()
    panel = page.locator("#route-plan")
    expect(panel.locator(".route-stops .route-stop")).to_have_count(3)
    tiles = panel.locator("svg image.field-map-tile")
    expect(tiles.first).to_be_attached()
    count = tiles.count()
    page.wait_for_timeout(500)
    assert len(asked) >= count >= 1
    assert all(re.fullmatch(r"/tiles/\d+/\d+/\d+\.png", path) for path in asked)
    expect(panel.locator("svg .field-map-grid")).to_have_count(0)
    page_guard.check(page)  # no CSP violation: the policy lets exactly this host in
    page_guard.screenshot("today-route-tiles-390", page)
