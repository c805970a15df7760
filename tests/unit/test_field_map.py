"""The map that needs no map service (crm.services.field.field_map) and the day's tour (geo.tour):
Web Mercator checked against the slippy-map tile formula, the zoom that fits, round scale bars,
the tiles of a known view, and a nearest-neighbour tour with its legs against haversine."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from crm.services.field import field_map, geo
from crm.services.field.field_map import Point, Tile

R = 6_371_008.8  # the mean radius geo uses


def slippy_tile(lat: float, lng: float, zoom: int) -> tuple[int, int]:
    """The OpenStreetMap wiki's tile numbers, written independently of the module."""
    n = 2**zoom
    x = int((lng + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def haversine(lat1, lng1, lat2, lng2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * R * math.asin(math.sqrt(a))


# --- projection -------------------------------------------------------------------------------


def test_the_origin_is_the_middle_of_the_world():
    assert field_map.mercator(0, 0) == (0.5, 0.5)
    assert field_map.world_pixels(0, 0, 1) == (256.0, 256.0)


@pytest.mark.parametrize(
    ("lat", "lng", "zoom"),
    [(29.8705, 121.5505, 12), (28.90, 120.03, 16), (-33.86, 151.21, 9), (51.5, -0.12, 18)],
)
def test_world_pixels_fall_in_the_slippy_map_tile(lat, lng, zoom):
    x, y = field_map.world_pixels(lat, lng, zoom)
    assert (int(x // 256), int(y // 256)) == slippy_tile(lat, lng, zoom)


def test_north_is_up_and_east_is_right():
    here = field_map.world_pixels(29.87, 121.55, 14)
    north = field_map.world_pixels(29.88, 121.55, 14)
    east = field_map.world_pixels(29.87, 121.56, 14)
    assert north[1] < here[1] and north[0] == here[0]
    assert east[0] > here[0] and east[1] == here[1]


# --- zoom and scale ---------------------------------------------------------------------------


def test_the_zoom_is_the_closest_at_which_everything_fits():
    # 0.01° of longitude at the equator: 1 / 36,000 of the world, 466 px wide at zoom 16.
    positions = [(0.0, 0.0), (0.0, 0.01)]
    assert field_map.fit_zoom(positions) == 15  # 233 px fit in 360 - 2 × 24 = 312 px
    assert field_map.fit_zoom(positions, width=500) == 15  # 466 px > 452 px at 16
    assert field_map.fit_zoom(positions, width=520) == 16
    assert field_map.fit_zoom([(29.87, 121.55)]) == field_map.MAX_ZOOM  # one point: closest


@pytest.mark.parametrize(
    ("most", "expected"),
    [(0.3, 1), (1, 1), (9.99, 5), (10, 10), (263, 200), (499, 200), (500, 500), (1999, 1000)],
)
def test_a_scale_distance_is_round(most, expected):
    assert field_map.round_distance(most) == expected


def test_the_scale_bar_is_round_and_true_to_the_latitude():
    # Zoom 15 at 60° north: 40,075,016.7 m × cos 60° / (256 × 2^15) = 2.3886 m per unit.
    bar = field_map.scale_bar(60.0, 15)
    assert bar.metres == 200
    assert bar.length == pytest.approx(200 / 2.38865, abs=0.01)  # 83.73 units
    assert (bar.x, bar.y) == (12.0, field_map.HEIGHT - 12.0)
    world = field_map.scale_bar(0.0, 1)  # 78,271.5 m per unit: 110 units ≈ 8,610 km
    assert world.metres == 5_000_000 and world.length == pytest.approx(63.88, abs=0.01)


# --- tiles -------------------------------------------------------------------------------------


def test_the_tiles_of_a_known_view_and_their_positions():
    template = "https://tiles.example.org/{z}/{x}/{y}.png"
    # One point on the equator at 0°: the corner of tiles 131072 at zoom 18, in the middle.
    view = field_map.view(None, [(0.0, 0.0)], template)
    assert view.zoom == 18
    assert view.points == [Point(180.0, 130.0)]
    assert view.tiles == [
        Tile("https://tiles.example.org/18/131071/131071.png", -76.0, -126.0),
        Tile("https://tiles.example.org/18/131072/131071.png", 180.0, -126.0),
        Tile("https://tiles.example.org/18/131071/131072.png", -76.0, 130.0),
        Tile("https://tiles.example.org/18/131072/131072.png", 180.0, 130.0),
    ]
    assert view.grid_x == [] and view.grid_y == []  # tiles replace the grid


def test_tiles_wrap_east_and_west_and_stop_at_the_poles():
    # A view from world pixel (-100, -10) at zoom 1 (a world of 2 × 2 tiles), 360 × 260:
    # the row above the world is skipped; column -1 is column 1 again, west of column 0.
    found = field_map.tiles("http://127.0.0.1:9/{z}/{x}/{y}", -100, -10, 1, 360, 260)
    assert [(tile.href, tile.x, tile.y) for tile in found] == [
        ("http://127.0.0.1:9/1/1/0", -156.0, 10.0),
        ("http://127.0.0.1:9/1/0/0", 100.0, 10.0),
        ("http://127.0.0.1:9/1/1/0", 356.0, 10.0),
    ]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org"),
        ("http://127.0.0.1:8765/t/{z}/{x}/{y}.png", "http://127.0.0.1:8765"),
        ("", ""),
        ("javascript:alert(1)//{z}{x}{y}", ""),
        ("https://user:secret@tiles.example.org/{z}/{x}/{y}", ""),
        ("https://tiles.example.org;script-src/{z}/{x}/{y}", ""),
    ],
)
def test_the_tile_origin_is_a_plain_scheme_and_host(url, origin):
    assert field_map.tile_origin(url) == origin


def test_without_tiles_the_map_has_a_light_grid_and_loads_nothing():
    for url in ("", "javascript:x/{z}/{x}/{y}"):
        view = field_map.view(None, [(0.0, 0.0)], url)
        assert view.tiles == []
        # Grid lines every quarter tile (64 units), aligned with the tile grid: the point on a
        # tile corner has lines through it.
        assert view.grid_x == [52.0, 116.0, 180.0, 244.0, 308.0]
        assert view.grid_y == [2.0, 66.0, 130.0, 194.0, 258.0]


# --- the view ---------------------------------------------------------------------------------


def test_the_view_places_the_phone_and_the_points_north_up_inside_the_padding():
    here = (29.8705, 121.5505)
    north, east = (29.8800, 121.5505), (29.8705, 121.5700)
    view = field_map.view(here, [north, east])
    assert view.here is not None and len(view.points) == 2
    top, right = view.points
    assert top.y < view.here.y and top.x == pytest.approx(view.here.x)
    assert right.x > view.here.x and right.y == pytest.approx(view.here.y)
    for point in [view.here, *view.points]:
        assert field_map.PADDING <= point.x <= view.width - field_map.PADDING
        assert field_map.PADDING <= point.y <= view.height - field_map.PADDING
    # Distances on the map, times the metres a unit stands for, agree with haversine (1 %).
    per_unit = field_map.metres_per_unit(here[0], view.zoom)
    east_m = (right.x - view.here.x) * per_unit
    assert east_m == pytest.approx(haversine(*here, *east), rel=0.01)
    assert view.zoom == 14
    assert view.path == (
        f"{view.here.x:.1f},{view.here.y:.1f} {top.x:.1f},{top.y:.1f} {right.x:.1f},{right.y:.1f}"
    )


def test_nothing_to_show_is_no_map():
    assert field_map.view(None, []) is None


# --- the day's tour ---------------------------------------------------------------------------


def place(name: str, lat: float | None, lng: float | None) -> SimpleNamespace:
    return SimpleNamespace(name=name, lat=lat, lng=lng)


def test_the_tour_goes_to_the_nearest_next_and_lists_the_unlocated_last():
    # On the equator, east of the start: A 0.01°, B 0.05°, C 0.03°; D has no location.
    a, b, c = place("A", 0.0, 0.01), place("B", 0.0, 0.05), place("C", 0.0, 0.03)
    d = place("D", None, None)
    stops = geo.tour((0.0, 0.0), [a, d, b, c])
    assert [stop.factory.name for stop in stops] == ["A", "C", "B", "D"]
    degree = math.radians(0.01) * R  # 0.01° of a great circle: 1,111.95 m
    for stop, legs in zip(stops, (1, 2, 2), strict=False):
        assert stop.leg_m == pytest.approx(legs * degree, abs=1.0)
    assert [round(stop.total_m) for stop in stops[:3]] == [1112, 3336, 5560]
    assert stops[3].leg_m is None and stops[3].total_m is None


def test_the_tour_legs_agree_with_haversine_off_the_equator():
    start = (29.8705, 121.5505)
    one, two, three = (
        place("1", 29.9, 121.6),
        place("2", 29.95, 121.70),
        place("3", 29.871, 121.551),
    )
    stops = geo.tour(start, [one, two, three])
    assert [stop.factory.name for stop in stops] == ["3", "1", "2"]
    assert stops[0].leg_m == pytest.approx(haversine(*start, 29.871, 121.551), abs=1.0)
    assert stops[1].leg_m == pytest.approx(haversine(29.871, 121.551, 29.9, 121.6), abs=1.0)
    assert stops[2].leg_m == pytest.approx(haversine(29.9, 121.6, 29.95, 121.70), abs=1.0)
    assert stops[2].total_m == pytest.approx(sum(stop.leg_m for stop in stops), abs=1e-6)


def test_without_a_position_the_tour_starts_at_the_first_located_factory_due():
    a, b, c = place("A", 0.0, 0.01), place("B", 0.0, 0.05), place("C", 0.0, 0.03)
    stops = geo.tour(None, [place("no location", None, None), b, a, c])
    assert [stop.factory.name for stop in stops] == ["B", "C", "A", "no location"]
    assert stops[0].leg_m == 0 and stops[0].total_m == 0
    assert geo.tour(None, [place("X", None, None)])[0].total_m is None
    assert geo.tour(None, []) == []
