"""The day's route (/today/route) and the maps of Today's fragments: the tour's order, legs and
totals, the unlocated last, no position, bad positions refused with 422, scope, the SVG's
numbered points and the admin's tiles (and the CSP that lets exactly their host in)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm.extensions import db
from crm.services.install import settings
from tests import builders
from tests.web.helpers import sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai
START = "?lat=28.90&lng=120.03"
TILES = "https://tiles.example.org/{z}/{x}/{y}.png"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def day(db_session):
    """A rep's due factories east of the start on one parallel: A 0.01°, C 0.03°, B 0.07°."""
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    colleague = builders.user("rep", team_=team)
    at = {"A": 120.04, "B": 120.10, "C": 120.06, "Next week": 120.031, "Colleague's": 120.0301}
    factory = {
        name: builders.factory(
            belt, owner=colleague if name == "Colleague's" else rep, name=name, lat=28.90, lng=lng
        )
        for name, lng in at.items()
    }
    factory["No location"] = builders.factory(belt, owner=rep, name="No location")
    later_today = NOW + timedelta(hours=4)
    builders.follow_up(factory["A"], rep, NOW - timedelta(days=2), reason="Overdue")
    builders.follow_up(factory["A"], rep, later_today, reason="A second one, same factory")
    builders.follow_up(factory["B"], rep, NOW + timedelta(hours=1))
    builders.follow_up(factory["No location"], rep, NOW + timedelta(hours=2))
    builders.follow_up(factory["C"], rep, later_today)
    builders.follow_up(factory["Next week"], rep, NOW + timedelta(days=3))  # not due yet
    builders.follow_up(factory["Colleague's"], colleague, NOW)  # someone else's
    done = builders.follow_up(factory["Next week"], rep, NOW - timedelta(hours=1))
    done.status, done.completed_at = "done", NOW
    db_session.commit()
    return {"rep": rep, "colleague": colleague, "team": team, "factory": factory}


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def route_names(page: str) -> list[str]:
    return re.findall(r'<a class="row-link" href="/factories/\d+">([^<]+)</a>', page)


def test_the_route_is_a_nearest_next_tour_with_legs_totals_and_the_unlocated_last(client, day):
    sign_in(client, day["rep"].email)
    response = client.get("/today/route" + START)
    page = text_of(response)
    assert response.status_code == 200
    assert "<html" not in page  # a fragment for Today
    # Due order is A (overdue), B, C, No location; the tour from the start is A, C, B.
    assert route_names(page) == ["A", "C", "B", "No location"]
    assert "Next week" not in page and "Colleague's" not in page
    # 0.01° of longitude at 28.9° N is 973 m: legs 970 m, 1.9 km, 3.9 km; running totals.
    legs = re.findall(r'<span class="today-route-leg">([^<]+)</span>', page)
    totals = re.findall(r'<span class="today-route-total">([^<]+)</span>', page)
    assert legs == ["970 m", "1.9 km", "3.9 km"]
    assert totals == ["970 m in all", "2.9 km in all", "6.8 km in all"]
    assert "In all: 6.8 km." in page
    assert "No location on record" in page and "has no location yet" in page
    for name in ("A", "C", "B", "No location"):
        assert f'href="/visit?factory={day["factory"][name].id}"' in page  # Check in


def test_the_route_map_draws_the_tour_and_the_numbered_points_in_list_order(client, day):
    sign_in(client, day["rep"].email)
    page = text_of(client.get("/today/route" + START))
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'role="group" aria-labelledby="route-map-title"' in svg and 'role="img"' in svg
    assert "Map of the route through the 3 factories listed below, north up." in svg
    assert 'class="field-map-here"' in svg and 'class="field-map-route"' in svg
    points = re.findall(
        r'<a class="field-map-point" id="route-map-(\d+)" href="/factories/(\d+)"'
        r' tabindex="-1" aria-labelledby="route-map-\1 route-\2-name">'
        r'\s*<circle cx="([\d.]+)" cy="([\d.]+)"',
        svg,
    )
    name_of = {factory.id: name for name, factory in day["factory"].items()}
    by_number = {int(n): (name_of[int(fid)], float(x), float(y)) for n, fid, x, y in points}
    assert [by_number[n][0] for n in (1, 2, 3)] == ["A", "C", "B"]
    assert "A</" not in svg  # the names are written once, in the list the points name
    # One parallel, east of the start: the same height, farther east in tour order.
    xs = [by_number[n][1] for n in (1, 2, 3)]
    assert xs == sorted(xs) and len({by_number[n][2] for n in (1, 2, 3)}) == 1
    polyline = re.search(r'<polyline class="field-map-route" points="([^"]+)"', svg).group(1)
    assert len(polyline.split()) == 4  # the start and three stops
    assert "<image" not in svg and 'class="field-map-grid"' in svg  # no tiles configured
    assert re.search(r'<text class="field-map-scale-label"[^>]*>(\d+ m|\d+ km)</text>', svg)
    assert " style=" not in page and "<script" not in page


def test_without_a_position_the_route_starts_at_the_first_factory_due_with_a_location(client, day):
    sign_in(client, day["rep"].email)
    response = client.get("/today/route")
    page = text_of(response)
    assert response.status_code == 200
    assert "Your position was not shared" in page
    # A is due first; from A: C (0.02°) then B (0.04°).
    assert route_names(page) == ["A", "C", "B", "No location"]
    assert re.findall(r'<span class="today-route-leg">([^<]+)</span>', page) == [
        "1.9 km",
        "3.9 km",
    ]
    assert (
        '<span class="today-route-start">Start</span>' in page
        and 'class="field-map-here"' not in page
    )


@pytest.mark.parametrize(
    "query", ["?lat=abc&lng=120", "?lat=95&lng=120", "?lat=28.9&lng=-181", "?lat=28.9", "?lng=1"]
)
def test_a_bad_position_is_refused_with_a_message(client, day, query):
    sign_in(client, day["rep"].email)
    response = client.get("/today/route" + query)
    page = text_of(response)
    assert response.status_code == 422
    assert "Tap Plan my route again." in page and 'role="alert"' in page
    assert "<svg" not in page


def test_nothing_due_is_said_and_a_manager_sees_only_their_own(client, day):
    manager = builders.user("manager", leads=[day["team"]])
    db.session.commit()
    sign_in(client, manager.email)
    page = text_of(client.get("/today/route" + START))
    assert "Nothing is due today or overdue" in page and route_names(page) == []


def test_the_colleague_gets_their_own_route(client, day):
    sign_in(client, day["colleague"].email)
    assert route_names(text_of(client.get("/today/route" + START))) == ["Colleague's"]


def test_a_factory_user_has_no_route(client, day):
    user = builders.user("factory", factory=day["factory"]["A"])
    db.session.commit()
    sign_in(client, user.email)
    assert client.get("/today/route" + START).status_code == 404


def test_near_me_has_the_map_with_points_numbered_as_the_list(client, day):
    sign_in(client, day["rep"].email)
    page = text_of(client.get("/today/near" + START))
    listed = route_names(page)
    numbers = re.findall(r'<span class="field-map-number" aria-hidden="true">(\d+)</span>', page)
    assert listed == ["Next week", "A", "C", "B"]  # nearest first; the colleague's is not theirs
    assert numbers == [str(n) for n in range(1, len(listed) + 1)]
    name_of = {factory.id: name for name, factory in day["factory"].items()}
    points = {
        int(number): name_of[int(factory_id)]
        for number, factory_id in re.findall(
            r'id="near-map-(\d+)" href="/factories/(\d+)" tabindex="-1"', page
        )
    }
    assert [points[n] for n in range(1, len(listed) + 1)] == listed
    assert "Map of where you are and the" in page and 'class="field-map-here"' in page
    assert 'class="field-map-route"' not in page


def test_configured_tiles_are_drawn_and_only_their_host_is_let_in(client, day):
    sign_in(client, day["rep"].email)
    plain = client.get("/today")
    assert "img-src 'self' data: blob:;" in plain.headers["Content-Security-Policy"]
    settings.put(builders.user("admin"), "map_tile_url", TILES)
    db.session.commit()
    today = client.get("/today")
    assert (
        "img-src 'self' data: blob: https://tiles.example.org;"
        in (today.headers["Content-Security-Policy"])
    )
    page = text_of(client.get("/today/route" + START))
    zoom = re.search(r'href="https://tiles\.example\.org/(\d+)/\d+/\d+\.png"', page)
    assert zoom, "no tiles drawn"
    tiles = re.findall(r'<image class="field-map-tile" href="([^"]+)"', page)
    assert tiles and all(t.startswith(f"https://tiles.example.org/{zoom.group(1)}/") for t in tiles)
    assert 'class="field-map-grid"' not in page
    # Another page draws no map, and its policy does not let the tile host in.
    assert "tiles.example.org" not in client.get("/account/").headers["Content-Security-Policy"]
