"""A prospect added in the street (issue 27): the phone's position as its place, saved with no
signal and sent once when the network returns; duplicates listed with links before saving."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from crm.models import ClientAction, Factory, User
from tests import builders
from tests.browser.test_homes import sign_in
from tests.browser.test_outbox_actions import OFFLINE_ERRORS, badge_count, fresh, offline_on
from tests.browser.test_visit_log import service_worker_ready, wait_for

HERE = {"latitude": 28.9, "longitude": 120.03, "accuracy": 12}


@pytest.fixture
def street(live_db):
    team = builders.team()
    belt = builders.belt(team)
    near = builders.belt(team)
    near.lat, near.lng = 28.89, 120.04  # the belt around where the rep stands
    rep = builders.user("rep", team_=team)
    known = builders.factory(belt, owner=rep, name="永康宏翔门业有限公司", lat=28.95, lng=120.1)
    builders.contact(known, name="孙丽", phone="131 7921 6444")
    live_db.commit()
    return {"rep": rep.email, "near_belt": near.id, "known": known.id}


def located(page_guard) -> None:
    page_guard.context.grant_permissions(["geolocation"])
    page_guard.context.set_geolocation(HERE)


def named(live_db, name: str) -> int:
    return fresh(live_db).scalar(
        select(func.count()).select_from(Factory).where(Factory.name == name)
    )


def test_a_prospect_saved_offline_is_added_once_when_online(page, page_guard, live_db, street):
    located(page_guard)
    sign_in(page, street["rep"])
    page.get_by_role("link", name="Add a factory").click()
    expect(page).to_have_url(re.compile(r"/factories/new$"))
    expect(page.locator("#np-place")).to_contain_text("where you stand")
    expect(page.locator("#belt_id")).to_have_value(str(street["near_belt"]))
    page_guard.check(page)
    page_guard.screenshot("prospect-new-en-390", page)

    page.goto("/today")
    offline_on(page, page_guard, "/factories/new")
    expect(page.locator("#lat")).to_have_value("28.900000")
    page.get_by_label("Factory name").fill("金华新华文具")
    page.get_by_label("Contact name (optional)").fill("张三")
    page.get_by_label("Phone (optional)").fill("138 1234 5678")
    page.get_by_role("button", name="Save prospect").click()
    expect(page.locator("#prospect-form > .outbox-note")).to_contain_text("waiting to send")
    wait_for(lambda: badge_count(page) == "1", page)
    assert named(live_db, "金华新华文具") == 0

    page_guard.context.set_offline(False)
    wait_for(lambda: badge_count(page) == "0", page)
    wait_for(lambda: named(live_db, "金华新华文具") == 1, page)
    # A page loaded afterwards flushes again: nothing is sent twice.
    page.goto("/today")
    service_worker_ready(page)
    page.reload()
    assert named(live_db, "金华新华文具") == 1
    assert [a.kind for a in fresh(live_db).scalars(select(ClientAction))] == ["prospect_add"]
    factory = fresh(live_db).scalar(select(Factory).where(Factory.name == "金华新华文具"))
    rep = fresh(live_db).scalar(select(User).where(User.email == street["rep"]))
    assert factory.owner_id == rep.id and factory.belt_id == street["near_belt"]
    assert (round(factory.lat, 4), round(factory.lng, 4)) == (28.9, 120.03)


def test_duplicates_are_listed_with_links_and_saved_anyway(page, page_guard, live_db, street):
    page_guard.expect_console_error(OFFLINE_ERRORS)
    located(page_guard)
    sign_in(page, street["rep"])
    page.goto("/factories/new")
    service_worker_ready(page)
    page.get_by_label("Factory name").fill("永康宏翔门业厂")
    page.get_by_label("Phone (optional)").fill("+86 131-7921-6444")
    page.get_by_label("Contact name (optional)").fill("王")
    page.get_by_label("Category (optional)").click()  # the phone's field left: checked
    panel = page.locator("#prospect-duplicates")
    expect(panel.get_by_role("link", name="永康宏翔门业有限公司")).to_have_attribute(
        "href", f"/factories/{street['known']}"
    )
    page.get_by_role("button", name="Save prospect").click()
    expect(page.locator("#prospect-form > .outbox-note")).to_contain_text("Not saved")
    expect(page.locator("#name-outbox-error")).to_contain_text("永康宏翔门业有限公司")
    expect(panel.get_by_role("button", name="Save anyway")).to_be_visible()
    page_guard.check(page)
    page_guard.screenshot("prospect-duplicates-en-390", page)
    assert named(live_db, "永康宏翔门业厂") == 0
    panel.get_by_role("button", name="Save anyway").click()
    expect(page).to_have_url(re.compile(r"/factories/\d+$"))
    assert named(live_db, "永康宏翔门业厂") == 1


def test_the_form_in_chinese_has_save_on_the_first_screen(page, page_guard, live_db, street):
    rep = fresh(live_db).scalar(select(User).where(User.email == street["rep"]))
    rep.locale = "zh_Hans"
    live_db.commit()
    located(page_guard)
    sign_in(page, street["rep"])
    page.goto("/factories/new")
    save = page.locator(".np-save")
    expect(save).to_be_visible()
    box = save.bounding_box()
    assert box and box["y"] + box["height"] <= 844
    page_guard.check(page)
    page_guard.screenshot("prospect-new-zh-390", page)


def test_a_tap_on_the_map_moves_the_pin_and_the_place(page, page_guard, live_db, street):
    located(page_guard)
    sign_in(page, street["rep"])
    page.goto("/factories/new")
    expect(page.locator("#lat")).to_have_value("28.900000")
    page.get_by_text("Place by hand, credit code").click()
    svg = page.locator("#np-map svg")
    expect(svg).to_be_visible()
    page.locator("#credit_code").scroll_into_view_if_needed()  # the whole map above it
    pin = page.locator("#np-map .field-map-here-dot")
    box = pin.bounding_box()
    assert box
    # 40 px up and to the right of the pin: north and east of where the rep stands.
    page.mouse.click(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 - 40)
    expect(page.locator("#np-place")).to_have_text("Place: the point you chose.")
    assert float(page.locator("#lat").input_value()) > 28.9
    assert float(page.locator("#lng").input_value()) > 120.03
    page_guard.check(page)
    page_guard.screenshot("prospect-map-en-390", page)
    page.get_by_label("Factory name").fill("金华新华文具")
    page.get_by_role("button", name="Save prospect").click()
    expect(page).to_have_url(re.compile(r"/factories/\d+$"))
    factory = fresh(live_db).scalar(select(Factory).where(Factory.name == "金华新华文具"))
    assert factory.lat > 28.9 and factory.lng > 120.03
