"""The order of a day's stops: short in distance, and on time where a factory's hours are known.

Pure functions over plain positions (no database, no request): nearest neighbour from where the
rep stands, then 2-opt and single-stop moves until nothing shortens the route, never longer
than the order given (the due times'). A stop that would be reached after its factory closes
is moved earlier where that keeps every other stop on time; one that cannot be reached in time
stays flagged. Distances are straight lines on a local flat projection: at a belt's scale (tens
of km) it differs from the great circle by far less than a road's detours.
"""

from __future__ import annotations

import math
import time as timer
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

EARTH_RADIUS_M = 6_371_008.8
# A rep's pace between factories (straight-line metres per minute, ~24 km/h by car in a belt's
# streets once detours count) and the time spent at each stop; used only to judge opening hours.
PACE_M_PER_MINUTE = 400.0
VISIT_MINUTES = 30
# Up to this many stops every pair is tried; beyond it, only each stop's nearest few.
FULL_SEARCH = 40
NEIGHBOURS = 10
# Beyond FULL_SEARCH stops the improvement loop stops after this long whatever it has left (a
# 200-stop route stays fast).
BUDGET_SECONDS = 0.025


@dataclass(frozen=True)
class Place:
    """A stop to order: its key (a factory id), position and opening hours (local), if known."""

    key: int
    lat: float
    lng: float
    opens: time | None = None
    closes: time | None = None


@dataclass(frozen=True)
class Leg:
    """A stop in its place on the route: the leg to it, the total so far, its expected arrival
    (minutes after local midnight, waiting for the opening included) and whether it is late."""

    place: Place
    leg_m: float
    total_m: float
    arrive_minute: int
    late: bool


def _project(origin_lat: float, positions: Sequence[tuple[float, float]]) -> list[tuple]:
    squeeze = math.cos(math.radians(origin_lat))
    return [
        (math.radians(lng) * EARTH_RADIUS_M * squeeze, math.radians(lat) * EARTH_RADIUS_M)
        for lat, lng in positions
    ]


def _matrix(start: tuple[float, float], places: Sequence[Place]) -> list[list[float]]:
    """Node 0 is the start, node i the i-th place."""
    points = _project(start[0], [start, *((p.lat, p.lng) for p in places)])
    dist = math.dist
    return [[dist(a, b) for b in points] for a in points]


def length(d: list[list[float]], route: Sequence[int]) -> float:
    """The open path's length from node 0 through the route's nodes."""
    total, here = 0.0, 0
    for node in route:
        total += d[here][node]
        here = node
    return total


def _nearest_neighbour(d: list[list[float]], n: int) -> list[int]:
    left = list(range(1, n + 1))
    route, here = [], 0
    while left:
        here = min(left, key=d[here].__getitem__)  # the first of equals: the lower node
        left.remove(here)
        route.append(here)
    return route


def _candidates(d: list[list[float]], n: int) -> list[list[int]]:
    if n <= FULL_SEARCH:
        return [list(range(1, n + 1)) for _ in range(n + 1)]
    return [sorted(range(1, n + 1), key=row.__getitem__)[:NEIGHBOURS] for row in d]


def _two_opt(d: list[list[float]], path: list[int], near: list[list[int]]) -> bool:
    """One pass of 2-opt on the open path [0, ...]: reversing path[i..j] replaces the edges
    (i-1, i) and (j, j+1) by (i-1, j) and (i, j+1); the last edge may be open (no j+1)."""
    improved = False
    n = len(path) - 1
    position = {node: index for index, node in enumerate(path)}
    for i in range(1, n + 1):
        a, b = path[i - 1], path[i]
        for c in near[a]:
            j = position[c]
            if j <= i:
                continue
            after = path[j + 1] if j < n else None
            before = d[a][b] + (d[c][after] if after is not None else 0.0)
            now = d[a][c] + (d[b][after] if after is not None else 0.0)
            if now < before - 1e-7:
                path[i : j + 1] = reversed(path[i : j + 1])
                for k in range(i, j + 1):
                    position[path[k]] = k
                improved = True
                a, b = path[i - 1], path[i]
    return improved


def _relocate(d: list[list[float]], path: list[int], near: list[list[int]]) -> bool:
    """One pass of moving a single stop to just after another, where that shortens the path."""
    improved = False
    for node in list(path[1:]):
        i = path.index(node)
        prev, nxt = path[i - 1], path[i + 1] if i + 1 < len(path) else None
        gain = d[prev][node] + (d[node][nxt] - d[prev][nxt] if nxt is not None else 0.0)
        best, where = 1e-7, None
        for other in [0, *near[node]]:
            if other == node:
                continue
            j = path.index(other)
            if j in (i - 1, i):
                continue
            following = path[j + 1] if j + 1 < len(path) else None
            if following == node:
                continue
            cost = d[other][node] + (
                d[node][following] - d[other][following] if following is not None else 0.0
            )
            if gain - cost > best:
                best, where = gain - cost, other
        if where is not None:
            path.pop(i)
            path.insert(path.index(where) + 1, node)
            improved = True
    return improved


def shortest_order(start: tuple[float, float] | None, places: Sequence[Place]) -> list[Place]:
    """The places in a short order from `start`; without a start, from the first place given.

    Nearest neighbour, then 2-opt and single moves until neither shortens it (or the time
    budget ends); the order given wins when it is no longer.
    """
    places = list(places)
    if len(places) <= 1:
        return places
    if start is None:
        return [places[0], *shortest_order((places[0].lat, places[0].lng), places[1:])]
    n = len(places)
    d = _matrix(start, places)
    near = _candidates(d, n)
    path = [0, *_nearest_neighbour(d, n)]
    # A small route improves until nothing shortens it, whatever the machine's load; a large
    # one stops at the time budget too.
    until = timer.perf_counter() + BUDGET_SECONDS
    while n <= FULL_SEARCH or timer.perf_counter() < until:
        changed = _two_opt(d, path, near)
        changed = _relocate(d, path, near) or changed
        if not changed:
            break
    given = list(range(1, n + 1))
    route = path[1:] if length(d, path[1:]) <= length(d, given) else given
    return [places[node - 1] for node in route]


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def schedule(
    start: tuple[float, float] | None, ordered: Sequence[Place], leave_minute: int
) -> list[Leg]:
    """The route in this order: legs, totals and arrivals, leaving `start` at `leave_minute`
    (without a start, the first place is where the day begins: a leg of 0)."""
    legs: list[Leg] = []
    if not ordered:
        return legs
    here = start or (ordered[0].lat, ordered[0].lng)
    points = _project(here[0], [here, *((p.lat, p.lng) for p in ordered)])
    clock, total = float(leave_minute), 0.0
    for index, place in enumerate(ordered):
        leg = math.dist(points[index], points[index + 1])
        total += leg
        clock += leg / PACE_M_PER_MINUTE
        if place.opens is not None and clock < _minutes(place.opens):
            clock = float(_minutes(place.opens))
        late = place.closes is not None and clock > _minutes(place.closes)
        legs.append(Leg(place, leg, total, round(clock), late))
        clock += VISIT_MINUTES
    return legs


def _lateness(legs: list[Leg]) -> tuple[int, float]:
    return sum(leg.late for leg in legs), legs[-1].total_m if legs else 0.0


def on_time(
    start: tuple[float, float] | None, ordered: Sequence[Place], leave_minute: int
) -> list[Place]:
    """The order with each stop reached after closing moved to the earliest place where fewer
    stops are late (the shorter such route winning a tie); unchanged when all are on time."""
    ordered = list(ordered)
    if not any(p.opens or p.closes for p in ordered):
        return ordered
    best = _lateness(schedule(start, ordered, leave_minute))
    for _round in range(len(ordered)):
        late = [leg.place for leg in schedule(start, ordered, leave_minute) if leg.late]
        moved = False
        for place in late:
            index = ordered.index(place)
            first = 1 if start is None else 0  # without a start, the first place is the start
            for target in range(first, index):
                trial = ordered[:index] + ordered[index + 1 :]
                trial.insert(target, place)
                score = _lateness(schedule(start, trial, leave_minute))
                if score < best:
                    ordered, best, moved = trial, score, True
                    break
            if moved:
                break
        if not moved:
            break
    return ordered


def plan(
    start: tuple[float, float] | None, places: Sequence[Place], leave_minute: int
) -> list[Place]:
    """The day's order: short, then on time where hours are known."""
    return on_time(start, shortest_order(start, places), leave_minute)


def move(keys: Sequence[int], key: int, step: int) -> list[int]:
    """The keys with `key` moved one place up (step -1) or down (+1); at an end, unchanged.
    A key not in the list raises ValueError."""
    keys = list(keys)
    index = keys.index(key)
    target = index + step
    if step not in (-1, 1):
        raise ValueError("a stop moves one place at a time")
    if 0 <= target < len(keys):
        keys[index], keys[target] = keys[target], keys[index]
    return keys
