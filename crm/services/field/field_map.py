"""A map that needs no map service: positions projected for an inline SVG, Web Mercator.

Pure functions: they take positions (latitude, longitude) and return where each lands in the
SVG's own units, the zoom that shows them all, a scale bar with a round distance, a light grid,
and, when the admin configured a tile URL, the tiles that cover the view. One SVG unit is one
pixel of the standard 256-pixel Web Mercator tile grid at the chosen (whole) zoom, so tiles
line up with the points without any scaling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

TILE_SIZE = 256
# The view in SVG units: narrow enough that its text stays legible on a 390 px phone.
WIDTH = 360
HEIGHT = 260
# Room kept between a point and the edge, so that a numbered marker is never clipped.
PADDING = 24
MIN_ZOOM = 1
MAX_ZOOM = 18  # tile servers commonly stop at 18 or 19
# The scale bar is at most this long (SVG units), and a round 1, 2 or 5 times a power of ten.
SCALE_MAX = 110
GRID_STEP = 64  # a quarter tile: the light grid drawn when there are no tiles
EARTH_CIRCUMFERENCE_M = 2 * math.pi * 6_378_137  # the sphere Web Mercator is drawn on
MAX_LATITUDE = 85.05112878  # Web Mercator's square world stops here
# A host (name, IPv4 or [IPv6]) with an optional port: nothing else may reach the CSP header.
HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
# Two numbered markers (radius 13) closer than this would overlap: they are drawn as one group.
CLUSTER_DISTANCE = 26


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class ScaleBar:
    metres: int
    length: float  # SVG units
    x: float
    y: float


@dataclass(frozen=True)
class Tile:
    href: str
    x: float
    y: float
    size: int = TILE_SIZE


@dataclass(frozen=True)
class Cluster:
    """Points that would overlap, drawn as one marker with their count at their middle."""

    x: float
    y: float
    members: tuple[int, ...]  # indices into the view's points, in the order given

    @property
    def first(self) -> int:
        return self.members[0]

    @property
    def numbers(self) -> str:
        """The members' numbers as the list shows them (1-based): "3, 4, 7"."""
        return ", ".join(str(index + 1) for index in self.members)


def clusters(points: Sequence[Point], distance: float = CLUSTER_DISTANCE) -> list[Cluster]:
    """The points grouped where their markers would overlap: each point joins a group whose
    first point lies within `distance` (one in its own grid cell first, then the cells around),
    else starts its own. The grid of cells `distance` wide keeps it linear in the number of
    points (a belt has thousands)."""
    cells: dict[tuple[int, int], list[int]] = {}
    anchors: list[tuple[float, float]] = []
    members: list[list[int]] = []
    limit = distance * distance
    for index, point in enumerate(points):
        x, y = point.x, point.y
        cx, cy = int(x // distance), int(y // distance)
        joined = None
        for dx, dy in _AROUND:
            for group in cells.get((cx + dx, cy + dy), ()):
                ax, ay = anchors[group]
                if (ax - x) * (ax - x) + (ay - y) * (ay - y) < limit:
                    joined = group
                    break
            if joined is not None:
                break
        if joined is None:
            joined = len(anchors)
            anchors.append((x, y))
            members.append([])
            cells.setdefault((cx, cy), []).append(joined)
        members[joined].append(index)
    found = []
    for group in members:
        count = len(group)
        found.append(
            Cluster(
                round(sum(points[i].x for i in group) / count, 2),
                round(sum(points[i].y for i in group) / count, 2),
                tuple(group),
            )
        )
    return found


# A point's own cell first: most points join a group there.
_AROUND = ((0, 0), (-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1))


@dataclass(frozen=True)
class MapView:
    width: int
    height: int
    zoom: int
    here: Point | None  # the phone's position, when it was shared
    points: list[Point]  # in the order given: point i is list entry i + 1
    scale: ScaleBar
    tiles: list[Tile] = field(default_factory=list)
    grid_x: list[float] = field(default_factory=list)
    grid_y: list[float] = field(default_factory=list)
    groups: list[Cluster] = field(default_factory=list)  # the points, overlapping ones as one

    @property
    def path(self) -> str:
        """The polyline's points: from the phone's position (if any) through every point."""
        stops = ([self.here] if self.here else []) + self.points
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in stops)


def mercator(lat: float, lng: float) -> tuple[float, float]:
    """A position on the unit square of Web Mercator: x east from -180°, y south from the top."""
    lat = max(-MAX_LATITUDE, min(MAX_LATITUDE, lat))
    sin = math.sin(math.radians(lat))
    x = (lng + 180.0) / 360.0
    y = 0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)
    return x, y


def world_pixels(lat: float, lng: float, zoom: int) -> tuple[float, float]:
    """A position in pixels of the whole tile grid at a zoom (the world is 256 × 2^zoom wide)."""
    x, y = mercator(lat, lng)
    size = TILE_SIZE * 2**zoom
    return x * size, y * size


def fit_zoom(
    positions: Sequence[tuple[float, float]],
    width: int = WIDTH,
    height: int = HEIGHT,
    padding: int = PADDING,
    max_zoom: int = MAX_ZOOM,
) -> int:
    """The closest whole zoom at which every position fits in the view with its padding."""
    return _fit_unit_zoom(
        [mercator(lat, lng) for lat, lng in positions], width, height, padding, max_zoom
    )


def _fit_unit_zoom(
    unit: Sequence[tuple[float, float]],
    width: int = WIDTH,
    height: int = HEIGHT,
    padding: int = PADDING,
    max_zoom: int = MAX_ZOOM,
) -> int:
    span_x = max(x for x, _y in unit) - min(x for x, _y in unit)
    span_y = max(y for _x, y in unit) - min(y for _x, y in unit)
    for zoom in range(max_zoom, MIN_ZOOM - 1, -1):
        size = TILE_SIZE * 2**zoom
        if span_x * size <= width - 2 * padding and span_y * size <= height - 2 * padding:
            return zoom
    return MIN_ZOOM


def metres_per_unit(lat: float, zoom: int) -> float:
    """Ground metres per SVG unit at a latitude: Mercator stretches by 1 / cos(latitude)."""
    return EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / (TILE_SIZE * 2**zoom)


def round_distance(most: float) -> int:
    """The largest of 1, 2, 5, 10, 20, 50 … metres that is no more than `most` (at least 1)."""
    if most < 1:
        return 1
    power = 10 ** math.floor(math.log10(most))
    for step in (5, 2, 1):
        if step * power <= most:
            return int(step * power)
    return int(power)  # pragma: no cover (step 1 always fits)


def scale_bar(
    lat: float, zoom: int, width: int = WIDTH, height: int = HEIGHT, most: float = SCALE_MAX
) -> ScaleBar:
    """A bar of a round distance for the map's centre latitude, at the bottom left."""
    per_unit = metres_per_unit(lat, zoom)
    metres = round_distance(most * per_unit)
    return ScaleBar(metres=metres, length=metres / per_unit, x=12.0, y=height - 12.0)


def tile_origin(template: str) -> str:
    """The scheme and host of a tile URL ("https://tiles.example.org"), for the CSP's img-src."""
    if not template:
        return ""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not HOST.fullmatch(parts.netloc):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def tiles(template: str, left: float, top: float, zoom: int, width: int, height: int) -> list[Tile]:
    """The tiles that cover a view whose top-left corner is at world pixel (left, top)."""
    count = 2**zoom
    found = []
    for ty in range(math.floor(top / TILE_SIZE), math.ceil((top + height) / TILE_SIZE)):
        if not 0 <= ty < count:
            continue  # above or below the world: nothing to draw
        for tx in range(math.floor(left / TILE_SIZE), math.ceil((left + width) / TILE_SIZE)):
            href = (
                template.replace("{z}", str(zoom))
                .replace("{x}", str(tx % count))  # the world repeats east and west
                .replace("{y}", str(ty))
            )
            found.append(
                Tile(href, round(tx * TILE_SIZE - left, 2), round(ty * TILE_SIZE - top, 2))
            )
    return found


def _grid(offset: float, extent: int) -> list[float]:
    first = math.ceil(offset / GRID_STEP) * GRID_STEP
    return [
        round(line - offset, 2) for line in range(int(first), int(offset + extent) + 1, GRID_STEP)
    ]


def view(
    here: tuple[float, float] | None,
    positions: Sequence[tuple[float, float]],
    tile_url: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> MapView | None:
    """The map of the phone's position (if shared) and the numbered positions; None if empty.

    North is up; the view is centred on the middle of everything it shows, at the closest
    whole zoom that shows it all.
    """
    if tile_url and not tile_origin(tile_url):
        tile_url = ""  # only a URL the settings page would accept ever reaches the page
    shown = ([here] if here else []) + list(positions)
    if not shown:
        return None
    unit = [mercator(lat, lng) for lat, lng in shown]
    zoom = _fit_unit_zoom(unit, width, height)
    size = TILE_SIZE * 2**zoom
    pixels = [(x * size, y * size) for x, y in unit]
    middle_x = (min(x for x, _y in pixels) + max(x for x, _y in pixels)) / 2
    middle_y = (min(y for _x, y in pixels) + max(y for _x, y in pixels)) / 2
    left, top = middle_x - width / 2, middle_y - height / 2

    placed = [Point(round(x - left, 2), round(y - top, 2)) for x, y in pixels]
    points = placed[1:] if here else placed
    centre_lat = _latitude_at(middle_y, zoom)
    return MapView(
        width=width,
        height=height,
        zoom=zoom,
        here=placed[0] if here else None,
        points=points,
        scale=scale_bar(centre_lat, zoom, width, height),
        tiles=tiles(tile_url, left, top, zoom, width, height) if tile_url else [],
        grid_x=[] if tile_url else _grid(left, width),
        grid_y=[] if tile_url else _grid(top, height),
        groups=clusters(points),
    )


def _latitude_at(y: float, zoom: int) -> float:
    """The latitude of a world pixel row: the inverse of Web Mercator's y."""
    unit = y / (TILE_SIZE * 2**zoom)
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * unit))))
