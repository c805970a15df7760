"""A rep signs in, sees today's follow-ups on a phone and on a desktop, and signs out."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests import builders
from tests.browser.guard import DESKTOP, PHONE


def calm_now(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The real now and the start of the next local day, at least two minutes apart.

    The server's clock runs free, so a follow-up "later today" needs room before midnight;
    in the last two minutes of a day the test waits for the next one.
    """
    now = datetime.now(UTC)
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
    if midnight - local < timedelta(minutes=2):
        time.sleep((midnight - local).total_seconds() + 1)
        return calm_now(zone)
    return now, midnight.astimezone(UTC)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
def test_rep_signs_in_sees_todays_follow_ups_and_signs_out(
    app, live_db, page, page_guard, viewport
):
    now, midnight = calm_now(ZoneInfo(app.config["CRM_TIMEZONE"]))
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, name="Ningbo Bright Hardware")
    builders.follow_up(factory, rep, now - timedelta(hours=3), reason="Send the price list")
    builders.follow_up(factory, rep, now + (midnight - now) / 2, reason="Check the shop photos")
    email = rep.email
    live_db.commit()

    page.goto("/login")
    page_guard.check(page)
    page.get_by_label("E-mail or mobile number").fill(email)
    page.get_by_label("Password", exact=True).fill(builders.PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/today$"))
    expect(page.get_by_role("heading", name="Today", level=1)).to_be_visible()
    counts = page.get_by_role("list", name="Follow-ups").get_by_role("listitem")
    expect(counts).to_have_text(["1 overdue", "1 today", "0 next 7 days"])
    expect(page.get_by_role("heading", name="Overdue")).to_be_visible()
    expect(page.get_by_role("heading", name="Due today")).to_be_visible()
    expect(page.get_by_text("Ningbo Bright Hardware")).to_have_count(2)
    expect(page.get_by_text("Send the price list")).to_be_visible()
    expect(page.get_by_text("Check the shop photos")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot(f"rep-today-{viewport['width']}", page)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?out=1$"))
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_label("E-mail or mobile number")).to_be_empty()
    page_guard.check(page)
