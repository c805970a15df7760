"""Separate consent to location at check-in on a phone (issue 23): asked before the first check-in,
online and offline; "Not now" checks in without a position; withdrawing on the account page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.models import User
from crm.services.privacy import consent
from tests import builders
from tests.browser.test_homes import sign_in
from tests.browser.test_visit_log import at_the_factory, service_worker_ready, visits, wait_for

FACTORY = "永康市恒达五金制品有限公司"


@pytest.fixture
def new_rep(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team, location_consent=False)
    factory = builders.factory(
        builders.belt(team), owner=rep, name=FACTORY, lat=29.87, lng=121.54, stage="elementary"
    )
    live_db.commit()
    return {"rep": rep.email, "rep_id": rep.id, "factory_id": factory.id}


def rep_of(live_db, world) -> User:
    live_db.rollback()
    return live_db.scalar(select(User).where(User.id == world["rep_id"]))


def test_the_first_check_in_asks_and_allowing_keeps_the_position(
    page, page_guard, live_db, new_rep
):
    at_the_factory(page_guard)
    sign_in(page, new_rep["rep"])
    page.goto(f"/visit?factory={new_rep['factory_id']}")
    question = page.get_by_role("heading", name="Share your location when you check in?")
    expect(question).to_be_visible()
    allow = page.get_by_role("button", name="Allow when I check in")
    expect(allow).to_be_in_viewport()  # the answer is on the first screen of the phone
    asking = page.get_by_text("Location: not taken. Answer the question above first.")
    expect(asking).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("location-consent-390", page)
    allow.click()
    expect(question).to_be_hidden()
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    page.get_by_label("Summary for the factory").fill("First visit")
    page.get_by_role("button", name="Save visit").click()
    expect(page).to_have_url(re.compile(rf"/factories/{new_rep['factory_id']}"))
    (visit,) = visits(live_db)
    assert visit.lat is not None and not visit.position_withheld and not visit.off_site
    rep = rep_of(live_db, new_rep)
    assert consent.consents(rep)

    # The server has it now: the next visit is not asked again.
    page.goto(f"/visit?factory={new_rep['factory_id']}")
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    expect(question).to_be_hidden()

    # Withdrawn on the account page: the next check-in carries no position and is not asked.
    page.goto("/account/")
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_text("Location at check-in is off.")).to_be_visible()
    page_guard.check(page)
    page.goto(f"/visit?factory={new_rep['factory_id']}")
    expect(question).to_be_visible()
    page.get_by_role("button", name="Not now").click()
    expect(page.get_by_text(re.compile("Location: not shared"))).to_be_visible()
    page.get_by_label("Training").check()
    page.get_by_role("button", name="Save visit").click()
    expect(page).to_have_url(re.compile(rf"/factories/{new_rep['factory_id']}"))
    expect(page.get_by_text("Position not shared")).to_be_visible()
    latest = max(visits(live_db), key=lambda v: v.id)
    assert latest.lat is None and latest.position_withheld
    assert not consent.consents(rep_of(live_db, new_rep))


def test_a_consent_given_offline_travels_with_the_queued_visit(page, page_guard, live_db, new_rep):
    page_guard.expect_console_error(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    at_the_factory(page_guard)
    sign_in(page, new_rep["rep"])
    page.goto(f"/visit?factory={new_rep['factory_id']}")
    service_worker_ready(page)
    page.reload()  # the service worker has now kept the shell
    page_guard.context.set_offline(True)
    page.goto(f"/visit?factory={new_rep['factory_id']}")  # from the phone's cache
    page.get_by_role("button", name="Allow when I check in").click()
    expect(page.get_by_text("Location taken: within 12 m.")).to_be_visible()
    page.get_by_label("Training").check()
    page.get_by_label("Summary for the factory").fill("No signal in the workshop")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
    assert visits(live_db) == []
    assert not consent.consents(rep_of(live_db, new_rep))

    page_guard.context.set_offline(False)
    wait_for(lambda: len(visits(live_db)) == 1, page)
    (visit,) = visits(live_db)
    assert visit.lat is not None and not visit.position_withheld
    rep = rep_of(live_db, new_rep)
    assert consent.consents(rep) and rep.location_consent_version == consent.NOTICE_VERSION


def test_not_now_checks_in_without_a_position_and_is_not_asked_again_on_the_phone(
    page, page_guard, live_db, new_rep
):
    at_the_factory(page_guard)
    sign_in(page, new_rep["rep"])
    page.goto(f"/visit?factory={new_rep['factory_id']}")
    page.get_by_role("button", name="Not now").click()
    page.get_by_label("Summary for the factory").fill("No location please")
    page.get_by_role("button", name="Save visit").click()
    expect(page).to_have_url(re.compile(rf"/factories/{new_rep['factory_id']}"))
    (visit,) = visits(live_db)
    assert visit.lat is None and visit.position_withheld and not visit.off_site
    page.goto(f"/visit?factory={new_rep['factory_id']}")
    expect(page.get_by_text(re.compile("Location: not shared"))).to_be_visible()
    question = page.get_by_role("heading", name="Share your location when you check in?")
    expect(question).to_be_hidden()
