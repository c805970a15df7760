"""The day's route on a phone: the rep ticks the stops, plans them from where they stand, moves
one, hands a stop to a navigation app, and opens the kept plan with no signal; the map groups
the points that would overlap and draws the rep above them (en and zh, 390 x 844)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from crm.services.field import geo
from tests import builders
from tests.browser.guard import PHONE
from tests.browser.test_homes import sign_in
from tests.browser.test_today import HERE, route_day  # noqa: F401 (a fixture)
from tests.browser.test_visit_log import service_worker_ready


def stop_names(page) -> list[str]:
    return page.locator("#route-plan .route-stops .route-stop .row-link").all_text_contents()


@pytest.mark.parametrize("viewport", [PHONE], ids=["390"])
@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_the_rep_ticks_plans_moves_and_navigates(
    page,
    page_guard,
    live_db,
    route_day,  # noqa: F811
    viewport,
    locale,
):
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, route_day["rep"])
    if locale != "en":
        page.goto("/account/")
        page.get_by_label("Language").select_option(locale)
        page.get_by_role("button", name="Save language").click()
    page.goto("/today/route")
    plan_button = page.locator(".route-plan-button")
    expect(plan_button).to_be_visible()
    box = plan_button.bounding_box()
    assert box["y"] + box["height"] <= viewport["height"]  # the main action on the first screen
    boxes = page.locator("input[name=factory]")
    expect(boxes).to_have_count(4)
    for index in range(4):
        expect(boxes.nth(index)).to_be_checked()
    # The phone's position reaches the form before the tap.
    expect(page.locator("[data-route-form] [data-route-lat]")).to_have_value(str(HERE["latitude"]))
    page.locator(".route-choice", has_text="Far Fasteners").locator("input").uncheck()
    page_guard.check(page)
    page_guard.screenshot(f"route-choose-{locale}-390", page)
    plan_button.click()
    expect(page.locator("#route-plan .route-stops .route-stop")).to_have_count(2)
    assert stop_names(page) == ["Close Casting", "Middle Mould Works"]
    expect(page.locator("#route-plan .route-unlocated")).to_contain_text("Unplaced Plastics")
    expect(page.locator("svg .field-map-here")).to_have_count(1)
    # Each stop hands its place to Amap, Baidu Maps or the phone's map app, in GCJ-02 where
    # the Chinese apps expect it.
    first = page.locator("#route-plan .route-stop").first
    links = first.locator(".route-navigate a")
    expect(links).to_have_count(3)
    amap = parse_qs(urlsplit(links.nth(0).get_attribute("href")).query)
    lat, lng = geo.gcj02(HERE["latitude"], 121.5555)
    assert amap["position"] == [f"{lng:.6f},{lat:.6f}"] and amap["name"] == ["Close Casting"]
    assert links.nth(1).get_attribute("href").startswith("https://api.map.baidu.com/marker?")
    assert links.nth(2).get_attribute("href").startswith("geo:")
    page_guard.check(page)
    page_guard.screenshot(f"route-planned-{locale}-390", page)
    # Move the second stop up.
    second = page.locator("#route-plan .route-stop").nth(1)
    second.locator("button[value=up]").click()
    expect(page.locator("#route-plan .route-stop").first).to_contain_text("Middle Mould Works")
    assert stop_names(page) == ["Middle Mould Works", "Close Casting"]
    page_guard.check(page)


def test_the_kept_plan_opens_offline(page, page_guard, live_db, route_day):  # noqa: F811
    page_guard.expect_console_error(r"ERR_INTERNET_DISCONNECTED|Failed to fetch")
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, route_day["rep"])
    service_worker_ready(page)
    page.goto("/today/route")
    page.get_by_role("button", name="Plan the route").click()
    expect(page.locator("#route-plan .route-stops .route-stop")).to_have_count(3)
    page.wait_for_timeout(300)  # the worker keeps the page it served
    page_guard.context.set_offline(True)
    page.goto("/today/route")
    expect(page.locator("#route-plan .route-stops .route-stop")).to_have_count(3)
    assert stop_names(page) == ["Close Casting", "Middle Mould Works", "Far Fasteners"]
    expect(page.locator("#offline-note")).to_have_text(re.compile(r"\d\d:\d\d"))
    # Changing it needs the network: the page says so and stays.
    page.locator("#route-plan .route-stop").first.locator("button[value=down]").click()
    expect(page.locator("#route-offline")).to_contain_text("Changing it needs the network.")
    assert stop_names(page) == ["Close Casting", "Middle Mould Works", "Far Fasteners"]
    expect(page).to_have_url(re.compile(r"/today/route$"))


def test_points_that_would_overlap_are_grouped_under_the_rep(page, page_guard, live_db):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    lat, lng = HERE["latitude"], HERE["longitude"]
    for n in range(5):
        factory = builders.factory(
            belt, owner=rep, name=f"Cluster {n}", lat=lat + 0.02 + n * 0.0002, lng=lng
        )
        builders.follow_up(factory, rep, factory.created_at)
    far = builders.factory(belt, owner=rep, name="Far away", lat=lat - 0.05, lng=lng + 0.05)
    builders.follow_up(far, rep, far.created_at)
    live_db.commit()
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)
    sign_in(page, rep.email)
    page.goto("/today/route")
    # The phone's position reaches the form before Plan is tapped: the plan then starts there.
    expect(page.locator("[data-route-lat]").first).to_have_value(re.compile(r"\d"))
    page.get_by_role("button", name="Plan the route").click()
    expect(page.locator("#route-plan .route-stops .route-stop")).to_have_count(6)
    group = page.locator("svg .field-map-cluster")
    expect(group).to_have_count(1)
    expect(group.locator("text")).to_have_text("5")
    # The rep's position is drawn after (above) every point.
    order = page.evaluate(
        "() => Array.from(document.querySelectorAll('svg.field-map-svg .field-map-point,"
        " svg.field-map-svg .field-map-here')).map(n => n.classList.contains('field-map-here'))"
    )
    assert order[-1] is True and order.count(True) == 1
    page_guard.check(page)
    page_guard.screenshot("route-cluster-390", page)
