"""A rep's Today on a phone and a desk: overdue first, Done, Move, and "Near me"."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.models import Factory, FollowUp
from tests import builders
from tests.browser.guard import DESKTOP, PHONE
from tests.browser.test_homes import sign_in
from tests.browser.test_sign_in import calm_now

HERE = {"latitude": 29.8705, "longitude": 121.5505}


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
    day = rep_day["local_today"] + timedelta(days=10)
    coming_row.get_by_label("New date").fill(day.isoformat())
    coming_row.get_by_role("button", name="Move", exact=True).click()
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
    expect(page.get_by_text("a follow-up cannot be due in the past")).to_be_visible()
    expect(page.get_by_role("heading", name="Move the follow-up")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("today-move-refused-390", page)
    live_db.rollback()
    assert live_db.get(FollowUp, rep_day["coming"]).due_at.year != 2020


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
    assert local.date() == rep_day["local_today"] + timedelta(days=7) and local.hour == 10
