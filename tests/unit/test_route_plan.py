"""The day's order (crm.services.field.route_plan) and the hand-off to navigation apps
(crm.services.field.geo): near the best by brute force, never longer than the due order, the
small cases, opening hours, moving a stop, and GCJ-02 in the links."""

from __future__ import annotations

import itertools
import random
import time as timer
from datetime import time
from urllib.parse import parse_qs, urlsplit

import pytest

from crm.services.field import geo, route_plan
from crm.services.field.route_plan import Place

START = (28.90, 120.03)


def length(start, places) -> float:
    return route_plan.schedule(start, places, 8 * 60)[-1].total_m if places else 0.0


def belt(seed: int, count: int) -> list[Place]:
    """`count` factories scattered over about 20 km around the start."""
    rng = random.Random(seed)
    return [
        Place(i + 1, START[0] + rng.uniform(-0.1, 0.1), START[1] + rng.uniform(-0.1, 0.1))
        for i in range(count)
    ]


@pytest.mark.parametrize("count", range(3, 9))
@pytest.mark.parametrize("seed", range(12))
def test_the_planned_order_is_within_a_tenth_of_the_best_and_no_longer_than_the_due_order(
    seed, count
):
    places = belt(seed * 100 + count, count)
    planned = route_plan.plan(START, places, 8 * 60)
    assert sorted(p.key for p in planned) == [p.key for p in places]
    best = min(length(START, list(order)) for order in itertools.permutations(places))
    assert length(START, planned) <= best * 1.10
    assert length(START, planned) <= length(START, places) + 1e-6


def test_without_a_start_the_route_begins_at_the_first_stop_given():
    places = belt(7, 6)
    planned = route_plan.plan(None, places, 8 * 60)
    assert planned[0] == places[0]
    best = min(length(None, [places[0], *order]) for order in itertools.permutations(places[1:]))
    assert length(None, planned) <= best * 1.10


def test_no_stop_one_stop_and_two_stops():
    assert route_plan.plan(START, [], 480) == []
    assert route_plan.schedule(START, [], 480) == []
    one = Place(1, 28.91, 120.03)
    assert route_plan.plan(START, [one], 480) == [one]
    near, far = Place(1, 28.90, 120.04), Place(2, 28.90, 120.10)
    assert route_plan.plan(START, [far, near], 480) == [near, far]
    legs = route_plan.schedule(START, [near, far], 480)
    assert legs[0].leg_m == pytest.approx(geo.distance_m(*START, 28.90, 120.04), rel=0.001)
    assert legs[1].total_m == pytest.approx(geo.distance_m(*START, 28.90, 120.10), rel=0.001)


def test_a_factory_that_closes_early_is_visited_before_it_closes():
    # Going east the closest first would reach the far west factory after its 09:00 closing.
    east = [Place(i, 28.90, 120.03 + 0.01 * i) for i in range(1, 5)]
    early = Place(9, 28.90, 120.01, closes=time(9, 0))
    leave = 8 * 60
    east_first = [*east, early]
    assert route_plan.schedule(START, east_first, leave)[-1].late
    fixed = route_plan.on_time(START, east_first, leave)
    assert not any(leg.late for leg in route_plan.schedule(START, fixed, leave))


def test_a_stop_reached_before_it_opens_waits_for_the_opening():
    opens_at_ten = Place(1, 28.90, 120.04, opens=time(10, 0))
    (leg,) = route_plan.schedule(START, [opens_at_ten], 8 * 60)
    assert leg.arrive_minute == 600 and not leg.late


def test_a_stop_moves_one_place_up_or_down_and_stays_at_an_end():
    assert route_plan.move([1, 2, 3], 2, -1) == [2, 1, 3]
    assert route_plan.move([1, 2, 3], 2, 1) == [1, 3, 2]
    assert route_plan.move([1, 2, 3], 1, -1) == [1, 2, 3]
    assert route_plan.move([1, 2, 3], 3, 1) == [1, 2, 3]
    with pytest.raises(ValueError):
        route_plan.move([1, 2, 3], 4, 1)


def test_two_hundred_stops_are_ordered_quickly_and_shorter_than_the_due_order():
    places = belt(42, 200)
    began = timer.process_time()  # CPU time: the machine's load does not count
    planned = route_plan.plan(START, places, 480)
    assert timer.process_time() - began < 1.0  # make bench holds the real target
    assert length(START, planned) < 0.5 * length(START, places)


def test_a_known_point_in_beijing_converts_to_its_published_gcj02_position():
    # The reference of the coordtransform implementations: WGS-84 39.915, 116.404.
    assert geo.gcj02(39.915, 116.404) == pytest.approx((39.91640428150164, 116.41024449916938))
    assert geo.gcj02(51.5, -0.12) == (51.5, -0.12)  # outside China: unchanged


def test_the_navigation_links_carry_gcj02_and_the_factory_name():
    links = geo.navigation("宏翔门业 (永康)", 39.915, 116.404)
    amap = parse_qs(urlsplit(links.amap).query)
    assert links.amap.startswith("https://uri.amap.com/marker?")
    assert amap["position"] == ["116.410244,39.916404"] and amap["name"] == ["宏翔门业 (永康)"]
    baidu = parse_qs(urlsplit(links.baidu).query)
    assert links.baidu.startswith("https://api.map.baidu.com/marker?")
    assert baidu["location"] == ["39.916404,116.410244"] and baidu["coord_type"] == ["gcj02"]
    assert baidu["title"] == ["宏翔门业 (永康)"]
    assert links.device.startswith("geo:39.915000,116.404000?q=39.915000,116.404000(")
