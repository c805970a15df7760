"""The day's route the rep chooses (/today/route) and the maps of Today's fragments: the stops
to tick, the plan kept for the day in a short order, moved up and down, the unlocated apart,
navigation links with GCJ-02 positions, stale factories nearby, overlapping points grouped,
bad input refused with nothing changed, scope, and the admin's tiles (and the CSP)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from flask_babel import force_locale

from crm.extensions import db
from crm.models import RoutePlan
from crm.services.field import geo
from crm.services.install import settings
from crm.views.distances import format_distance
from tests import builders
from tests.web.helpers import csrf_token, sign_in

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
    """The names of the planned stops, in the list's order (the choices are not links)."""
    return re.findall(r'<a class="row-link" href="/factories/\d+">([^<]+)</a>', page)


def choices(page: str) -> dict[str, bool]:
    """The stops offered to tick: name and whether it is ticked."""
    return {
        name: bool(checked)
        for checked, name in re.findall(
            r'<input type="checkbox" name="factory" value="\d+"( checked)?>\s*'
            r'<span class="route-choice-text"><span class="route-choice-name">([^<]+)</span>',
            page,
        )
    }


def plan(client, day, *names, position=START, **extra):
    ids = [str(day["factory"][name].id) for name in names]
    data = {"factory": ids, "csrf_token": csrf_token(client, "/today/route"), **extra}
    if position:
        lat, lng = position.lstrip("?").split("&")
        data["lat"], data["lng"] = lat.split("=")[1], lng.split("=")[1]
    return client.post("/today/route", data=data)


def move(client, day, name, direction):
    data = {
        "factory": str(day["factory"][name].id) if name in day["factory"] else name,
        "direction": direction,
        "csrf_token": csrf_token(client, "/today/route"),
    }
    return client.post("/today/route/move", data=data)


def kept(day) -> list[int] | None:
    db.session.expire_all()
    found = db.session.scalar(db.select(RoutePlan).where(RoutePlan.user_id == day["rep"].id))
    return list(found.factory_ids) if found else None


def ids(day, *names) -> list[int]:
    return [day["factory"][name].id for name in names]


def test_the_due_and_overdue_factories_are_offered_ticked_and_planning_is_on_the_first_screen(
    client, day
):
    sign_in(client, day["rep"].email)
    response = client.get("/today/route")
    page = text_of(response)
    assert response.status_code == 200 and "<html" in page
    assert choices(page) == {"A": True, "B": True, "No location": True, "C": True}
    assert "Next week" not in page and "Colleague's" not in page
    # The main action comes before the list of stops to tick.
    assert page.index("Plan the route") < page.index('name="factory"')
    assert route_names(page) == [] and kept(day) is None
    assert "Plan my route" in text_of(client.get("/today"))


def test_the_ticked_stops_are_kept_for_the_day_in_a_short_order_from_where_the_rep_stands(
    client, day
):
    sign_in(client, day["rep"].email)
    response = plan(client, day, "A", "B", "No location", "C")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/today/route#route-plan")
    assert kept(day) == ids(day, "A", "C", "B", "No location")
    page = text_of(client.get("/today/route"))
    # Planned: A, C, B along the parallel; the factory with no location listed apart.
    assert route_names(page) == ["A", "C", "B", "No location"]
    assert re.findall(r'<span class="route-leg">([^<]+)</span>', page) == [
        "970 m",
        "1.9 km",
        "3.9 km",
    ]
    assert "4 stops · 6.8 km" in page
    assert "No location on record" in page and "has no location yet" in page
    unlocated = page[page.index("No location on record") :]
    assert route_names(unlocated) == ["No location"]
    for name in ("A", "C", "B", "No location"):
        assert f'href="/visit?factory={day["factory"][name].id}"' in page  # Check in
    # The choices stay, ticked as planned, to change the stops.
    assert "Change the stops" in page and all(choices(page).values())


def test_the_plan_is_the_rep_s_for_today_only(client, day):
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "B")
    assert route_names(text_of(client.get("/today/route"))) == ["A", "B"]
    # A second plan the same day replaces the first.
    plan(client, day, "C", "A")
    assert kept(day) == ids(day, "A", "C")
    assert db.session.scalar(db.select(db.func.count()).select_from(RoutePlan)) == 1
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        page = text_of(client.get("/today/route"))
        assert route_names(page) == [] and "Plan the route" in page
    client.post("/logout", data={"csrf_token": csrf_token(client, "/today")})
    sign_in(client, day["colleague"].email)
    assert route_names(text_of(client.get("/today/route"))) == []


def test_without_a_position_the_route_starts_at_the_first_stop_ticked(client, day):
    sign_in(client, day["rep"].email)
    assert plan(client, day, "A", "B", "C", position=None).status_code == 303
    page = text_of(client.get("/today/route"))
    assert "Your position was not shared" in page
    assert route_names(page) == ["A", "C", "B"]
    assert re.findall(r'<span class="route-leg">([^<]+)</span>', page) == ["1.9 km", "3.9 km"]
    assert 'class="field-map-here"' not in page


def test_no_stop_is_refused_and_one_or_two_stops_are_a_route(client, day):
    sign_in(client, day["rep"].email)
    response = plan(client, day)
    assert response.status_code == 422
    assert "Tick at least one stop for today." in text_of(response) and kept(day) is None
    plan(client, day, "B")
    page = text_of(client.get("/today/route"))
    assert route_names(page) == ["B"] and "1 stop · 6.8 km" in page
    plan(client, day, "B", "A")
    assert kept(day) == ids(day, "A", "B")
    plan(client, day, "No location")
    page = text_of(client.get("/today/route"))
    assert route_names(page) == ["No location"] and "field-map-svg" not in page


def test_a_stop_moves_up_and_down_and_the_order_is_kept(client, day):
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "B", "C")
    response = move(client, day, "B", "up")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"#stop-{day['factory']['B'].id}"
    )
    assert kept(day) == ids(day, "A", "B", "C")
    page = text_of(client.get("/today/route"))
    assert route_names(page) == ["A", "B", "C"]
    # The legs follow the rep's order: 0.01°, then 0.06° east, then 0.04° back west.
    assert re.findall(r'<span class="route-leg">([^<]+)</span>', page) == [
        "970 m",
        "5.8 km",
        "3.9 km",
    ]
    move(client, day, "A", "down")
    assert kept(day) == ids(day, "B", "A", "C")
    move(client, day, "B", "up")  # the first stays first
    move(client, day, "C", "down")  # the last stays last
    assert kept(day) == ids(day, "B", "A", "C")
    assert re.search(r'value="up" aria-label="Move B up" disabled', page) is None
    page = text_of(client.get("/today/route"))
    assert 'aria-label="Move B up" disabled' in page and 'aria-label="Move C down" disabled' in page


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("colleague's", 404),
        ("missing", 404),
        ("not a number", 422),
        ("bad position", 422),
        ("too many", 422),
    ],
)
def test_bad_choices_are_refused_and_the_kept_plan_is_unchanged(client, day, what, expected):
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "B")
    before = kept(day)
    data = {
        "csrf_token": csrf_token(client, "/today/route"),
        "factory": [str(day["factory"]["C"].id)],
    }
    if what == "colleague's":
        data["factory"].append(str(day["factory"]["Colleague's"].id))
    elif what == "missing":
        data["factory"].append("999999")
    elif what == "not a number":
        data["factory"].append("12abc")
    elif what == "bad position":
        data.update(lat="95", lng="120")
    elif what == "too many":
        data["factory"] = [str(n) for n in range(1, 202)]
    response = client.post("/today/route", data=data)
    assert response.status_code == expected
    assert kept(day) == before
    if expected == 422:
        assert 'role="alert"' in text_of(response)


@pytest.mark.parametrize(
    ("factory", "direction", "expected"),
    [
        ("C", "up", 404),  # not on the route
        ("Colleague's", "up", 404),
        ("abc", "up", 422),
        ("A", "sideways", 422),
        ("A", "", 422),
    ],
)
def test_bad_moves_are_refused_and_the_kept_plan_is_unchanged(
    client, day, factory, direction, expected
):
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "B")
    before = kept(day)
    assert move(client, day, factory, direction).status_code == expected
    assert kept(day) == before


def test_moving_with_no_plan_today_is_not_found(client, day):
    sign_in(client, day["rep"].email)
    assert move(client, day, "A", "up").status_code == 404 and kept(day) is None


def test_each_stop_has_navigation_links_with_gcj02_positions(client, day):
    sign_in(client, day["rep"].email)
    plan(client, day, "A")
    page = text_of(client.get("/today/route"))
    lat, lng = geo.gcj02(28.90, 120.04)
    assert lat != pytest.approx(28.90, abs=1e-4)  # the shift is real in China
    assert f'href="https://uri.amap.com/marker?position={lng:.6f},{lat:.6f}&name=A&' in page
    assert f'href="https://api.map.baidu.com/marker?location={lat:.6f},{lng:.6f}&title=A&' in page
    assert "coord_type=gcj02" in page
    assert 'href="geo:28.900000,120.040000?q=28.900000,120.040000(A)"' in page
    # Plain links the person taps: nothing on the page loads from those hosts.
    assert "<iframe" not in page and 'src="https://' not in page


def test_stale_factories_within_5_km_are_offered_on_request(client, day):
    rep, belt = day["rep"], day["factory"]["A"].belt
    long_ago = NOW - timedelta(days=400)
    near = builders.factory(belt, owner=rep, name="Stale near", lat=28.91, lng=120.03)
    far = builders.factory(belt, owner=rep, name="Stale far", lat=28.99, lng=120.03)
    fresh = builders.factory(belt, owner=rep, name="Visited", lat=28.905, lng=120.03)
    near.last_visit_at = far.last_visit_at = long_ago
    fresh.last_visit_at = NOW - timedelta(days=1)
    db.session.commit()
    sign_in(client, rep.email)
    assert "Stale near" not in text_of(client.get("/today/route" + START))
    page = text_of(client.get("/today/route" + START + "&nearby=1"))
    offered = choices(page)
    assert offered["Stale near"] is False and "Stale far" not in offered
    assert "Visited" not in offered and "Not visited for a long time, within 5 km" in page
    assert "1.1 km" in page
    without = text_of(client.get("/today/route?nearby=1"))
    assert "Your position is needed" in without and "Stale near" not in without


def test_points_that_would_overlap_are_one_group_with_a_count_under_the_rep_s_position(client, day):
    belt = day["factory"]["A"].belt
    names = [f"Cluster {n}" for n in range(4)]
    for n, name in enumerate(names):
        day["factory"][name] = builders.factory(
            belt, owner=day["rep"], name=name, lat=28.95 + n * 0.0001, lng=120.20
        )
    db.session.commit()
    sign_in(client, day["rep"].email)
    plan(client, day, "A", *names)
    page = text_of(client.get("/today/route"))
    svg = page[page.index('<svg class="field-map-svg"') :]
    svg = svg[: svg.index("</svg>")]
    group = re.search(
        r'<a class="field-map-point field-map-cluster"[^>]*aria-label="4 places here: numbers '
        r'([\d, ]+)">\s*<circle[^>]*/>\s*<text[^>]*>4</text>',
        svg,
    )
    assert group and group.group(1) == "2, 3, 4, 5"
    assert len(re.findall(r'<a class="field-map-point', svg)) == 2  # A alone, and the group
    assert svg.index('class="field-map-here"') > svg.rindex('class="field-map-point')


def test_the_route_map_draws_the_tour_and_the_numbered_points_in_list_order(client, day):
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "B", "C", "No location")
    page = text_of(client.get("/today/route"))
    svg = page[page.index('<svg class="field-map-svg"') :]
    svg = svg[: svg.index("</svg>")]
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
    xs = [by_number[n][1] for n in (1, 2, 3)]
    assert xs == sorted(xs) and len({by_number[n][2] for n in (1, 2, 3)}) == 1
    polyline = re.search(r'<polyline class="field-map-route" points="([^"]+)"', svg).group(1)
    assert len(polyline.split()) == 4  # the start and three stops
    assert "<image" not in svg and 'class="field-map-grid"' in svg  # no tiles configured
    assert " style=" not in page and "<script>" not in page


@pytest.mark.parametrize(
    "query", ["?lat=abc&lng=120", "?lat=95&lng=120", "?lat=28.9&lng=-181", "?lat=28.9", "?lng=1"]
)
def test_a_bad_position_is_refused_with_a_message(client, day, query):
    sign_in(client, day["rep"].email)
    response = client.get("/today/route" + query)
    page = text_of(response)
    assert response.status_code == 422
    assert "must be a number" in page and 'role="alert"' in page


def test_nothing_due_is_said_and_a_manager_sees_only_their_own(client, day):
    manager = builders.user("manager", leads=[day["team"]])
    db.session.commit()
    sign_in(client, manager.email)
    page = text_of(client.get("/today/route" + START))
    assert "Nothing is due today or overdue" in page and choices(page) == {}


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
    plan(client, day, "A", "B")
    page = text_of(client.get("/today/route"))
    zoom = re.search(r'href="https://tiles\.example\.org/(\d+)/\d+/\d+\.png"', page)
    assert zoom, "no tiles drawn"
    tiles = re.findall(r'<image class="field-map-tile" href="([^"]+)"', page)
    assert tiles and all(t.startswith(f"https://tiles.example.org/{zoom.group(1)}/") for t in tiles)
    assert 'class="field-map-grid"' not in page
    # Another page draws no map, and its policy does not let the tile host in.
    assert "tiles.example.org" not in client.get("/account/").headers["Content-Security-Policy"]


def test_a_factory_closing_soon_comes_first_and_one_already_closed_is_flagged(client, day):
    # 10:00 in Shanghai. B, farthest east, closes at 10:30: reached last it would be closed.
    day["factory"]["B"].closes_at = time(10, 30)
    day["factory"]["C"].opens_at, day["factory"]["C"].closes_at = time(8, 0), time(9, 0)
    db.session.commit()
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "B", "C")
    assert kept(day)[0] == day["factory"]["B"].id
    page = text_of(client.get("/today/route"))
    late = re.findall(r'id="stop-(\d+)".*?(Closed by the time you arrive|</li>)', page, re.S)
    flagged = [int(stop) for stop, word in late if word.startswith("Closed")]
    assert flagged == [day["factory"]["C"].id]  # closed at 09:00: no order reaches it in time
    assert "open 08:00–09:00" in page and "open …–10:30" in page


@pytest.mark.parametrize(
    ("language", "written"),
    [
        ("en", ["10 m", "80 m", "2.4 km", "35 km", "1,234 km"]),
        ("zh_Hans", ["10 米", "80 米", "2.4 公里", "35 公里", "1,234 公里"]),
        ("de", ["10 m", "80 m", "2,4 km", "35 km", "1.234 km"]),  # symbols the other way
    ],
)
def test_a_distance_is_written_as_the_locale_writes_numbers(app, language, written):
    with app.test_request_context(), force_locale(language):
        assert [format_distance(m) for m in (3, 84, 2_449, 35_200, 1_234_000)] == written


def test_a_name_that_looks_like_markup_is_text_in_every_row_and_every_label(client, day):
    """Each stop and each choice is filled from a row rendered once (crm.views.route_rows):
    every value is escaped there, in the row, the navigation group and the move buttons."""
    hostile = '<b onclick="x">A&B</b>'
    day["factory"]["A"].name = hostile
    day["factory"]["C"].status = "paused"
    db.session.commit()
    sign_in(client, day["rep"].email)
    plan(client, day, "A", "C")
    raw = client.get("/today/route").get_data(as_text=True)
    assert "<b onclick" not in raw
    escaped = "&lt;b onclick=&#34;x&#34;&gt;A&amp;B&lt;/b&gt;"
    # The stop's link, its navigation group, its two buttons and its choice row.
    assert raw.count(escaped) == 5
    assert f'aria-label="Move {escaped} up" disabled' in raw
    # A paused factory keeps its stage badge and shows its status beside it.
    assert '<span class="badge badge-muted">Paused</span>' in raw
    assert 'aria-label="Move C down" disabled' in raw
