"""A rep's phone offline: the working set kept again after signing in, a page from the cache
that says how old it is, a page never kept that says so, and the off-site warning before saving."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests import builders
from tests.browser.test_homes import sign_in
from tests.browser.test_visit_log import outage, service_worker_ready

FACTORY = "永康市恒达五金制品有限公司"
SECOND = "宁波明亮五金有限公司"
GATE = (29.87, 121.54)


@pytest.fixture
def rep_world(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    belt = builders.belt(team)
    factory = builders.factory(
        belt, owner=rep, name=FACTORY, lat=GATE[0], lng=GATE[1], stage="elementary"
    )
    second = builders.factory(belt, owner=rep, name=SECOND, stage="junior")
    prospect = builders.factory(belt, status="prospect", name="Unowned Prospect Tools Co.")
    live_db.commit()
    return {
        "rep": rep,
        "factory_id": factory.id,
        "second_id": second.id,
        "prospect_id": prospect.id,
    }


def metres_north(metres: float) -> dict:
    """A phone position this many metres due north of the factory's gate."""
    return {"latitude": GATE[0] + metres / 111_195, "longitude": GATE[1], "accuracy": 10}


def test_after_signing_out_and_in_the_working_set_is_kept_for_offline_use(
    page, page_guard, live_db, rep_world
):
    page_guard.expect_console_error(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    email = rep_world["rep"].email
    sign_in(page, email)
    expect(page).to_have_url(re.compile("/today$"))
    service_worker_ready(page)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?out=1$"))
    sign_in(page, email)
    expect(page).to_have_url(re.compile("/today$"))
    # Today, the day's route, My factories, the new prospect's form, the visit form, its list,
    # the sync centre, the offline page, two factories.
    expect(page.locator("#offline-note")).to_have_text(
        re.compile(r"Ready for offline use: 10 pages saved on this phone\."), timeout=15_000
    )
    page_guard.check(page)

    page_guard.context.set_offline(True)
    page.locator(".tabbar").get_by_role("link", name="Visit").click()
    expect(page.get_by_role("heading", name="Log a visit")).to_be_visible()
    expect(page.locator("#offline-note")).to_have_text(re.compile(r"^Offline: as of \d\d:\d\d$"))
    page.goto(f"/factories/{rep_world['second_id']}")  # never opened on this phone
    expect(page.get_by_role("heading", name=SECOND)).to_be_visible()
    expect(page.locator("#offline-note")).to_be_visible()
    page.goto(f"/factories/{rep_world['prospect_id']}")  # in scope, but not the rep's own
    expect(page.get_by_role("heading", name="Not available offline")).to_be_visible()
    expect(page.get_by_role("heading", name="Today")).to_have_count(0)
    page.goto("/inbox/")  # not a page the phone keeps
    expect(page.get_by_role("heading", name="Not available offline")).to_be_visible()


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_offline_notes_in_the_users_language_and_zone(
    app, page, page_guard, live_db, rep_world, locale
):
    page_guard.expect_console_error(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    rep_world["rep"].locale = locale
    live_db.commit()
    sign_in(page, rep_world["rep"].email)
    service_worker_ready(page)
    expect(page.locator("#offline-note")).to_be_visible(timeout=15_000)
    page_guard.screenshot(f"offline-keeping-{locale}-390", page)
    expect(page.locator("#offline-note.offline-note-kept")).to_be_visible(timeout=15_000)
    page_guard.screenshot(f"offline-kept-{locale}-390", page)
    # The progress floats over the page: coming and going, it moves nothing under a finger.
    heading = page.locator("main h1")
    shown = heading.bounding_box()
    page.evaluate("() => { document.getElementById('offline-note').hidden = true; }")
    assert heading.bounding_box() == shown
    page_guard.context.set_offline(True)
    page.goto("/today")
    note = page.locator("#offline-note")
    expect(note).to_have_text(re.compile(r"\d\d:\d\d"))
    # The time it was kept, in the install's zone (the browser's own is UTC here).
    zone = ZoneInfo(app.config["CRM_TIMEZONE"])
    now = datetime.now(zone)
    minutes = {(now - timedelta(minutes=m)).strftime("%H:%M") for m in range(3)}
    assert re.search(r"\d\d:\d\d", note.inner_text()).group(0) in minutes
    page_guard.screenshot(f"offline-as-of-{locale}-390", page)
    page.goto(f"/factories/{rep_world['prospect_id']}")
    expect(page.locator(".offline-page")).to_be_visible()
    page_guard.screenshot(f"offline-not-kept-{locale}-390", page)


def test_the_visit_form_warns_before_saving_at_900_m_and_not_at_50_m(
    page, page_guard, live_db, rep_world
):
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(metres_north(900))
    sign_in(page, rep_world["rep"].email)
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    warning = page.locator("#visit-distance")
    expect(warning).to_have_text(
        re.compile(
            r"^You are (89\d|90\d) m from this factory: the visit will be marked off-site\.$"
        )
    )
    page_guard.check(page)
    page_guard.screenshot("visit-distance-far-en-390", page)

    page_guard.context.set_geolocation(metres_north(50))
    expect(warning).to_have_text(re.compile(r"^You are (4\d|5\d) m from this factory\.$"))
    expect(page.get_by_text("marked off-site")).to_have_count(0)
    # Another factory, with no place yet: nothing to compare with.
    page.get_by_label("Factory", exact=True).select_option(str(rep_world["second_id"]))
    expect(warning).to_be_hidden()

    page_guard.context.set_geolocation(metres_north(900))
    page.goto("/account/")
    page.get_by_label("Language").select_option("zh_Hans")
    page.get_by_role("button", name="Save language").click()
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    expect(warning).to_have_class(re.compile("visit-distance-far"))
    page_guard.screenshot("visit-distance-far-zh-390", page)


def test_the_off_site_radius_is_the_servers_setting(page, page_guard, live_db, rep_world):
    from crm.services.install import settings

    settings.put(builders.user("admin"), "checkin_radius_m", 1000)
    live_db.commit()
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(metres_north(900))
    sign_in(page, rep_world["rep"].email)
    page.goto(f"/visit?factory={rep_world['factory_id']}")
    warning = page.locator("#visit-distance")
    expect(warning).to_have_text(re.compile(r"^You are (89\d|90\d) m from this factory\.$"))
    expect(warning).not_to_have_class(re.compile("visit-distance-far"))


def test_signing_out_drops_waiting_visits_only_when_the_rep_says_so(
    page, page_guard, live_db, rep_world
):
    page_guard.expect_console_error(r"status of 503")
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(metres_north(10))
    email = rep_world["rep"].email
    sign_in(page, email)
    service_worker_ready(page)
    page.goto(f"/visit?factory={rep_world['factory_id']}")

    page_guard.context.route("**/api/v1/visits", outage)
    page.get_by_label("Summary for the factory").fill("Saved during an outage")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_text("Saved on this phone. Waiting to send: 1.")).to_be_visible()
    asked = []

    def drop(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", drop)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login\?out=1$"))
    assert asked and asked[0].startswith("Saved on this phone and not sent yet: 1.")
    kept = page.evaluate("() => caches.keys()")
    assert not [name for name in kept if name.endswith("-pages")]  # the kept pages are gone
    page_guard.context.unroute("**/api/v1/visits", outage)
    sign_in(page, email)
    expect(page).to_have_url(re.compile("/today$"))
    page.wait_for_timeout(1000)
    expect(page.locator("#outbox-count")).to_be_hidden()
    assert (
        page.evaluate(
            """() => new Promise(done => {
            const opening = indexedDB.open("crm-outbox");
            opening.onsuccess = () => {
                const all = opening.result.transaction("visits").objectStore("visits").getAll();
                all.onsuccess = () => done(all.result.length);
            };
        })"""
        )
        == 0
    )
