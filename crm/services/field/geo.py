"""Places on the earth: distances between positions, and a user's factories nearest to one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from flask_babel import gettext as _
from sqlalchemy import literal

from crm import scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Factory, User

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG)
NEAREST_LIMIT = 20
# The database ranks by a flat-earth distance, which can order close pairs differently
# from the great circle; taking a few more candidates than shown lets haversine decide.
CANDIDATE_FACTOR = 3


@dataclass(frozen=True)
class Nearby:
    factory: Factory
    distance_m: float


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The great-circle distance in metres between two positions (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def parse_position(lat: str | float | None, lng: str | float | None) -> tuple[float, float]:
    """A latitude and longitude as the phone sent them, checked; Invalid names the bad one."""
    return (
        _coordinate(lat, "lat", 90, _("The latitude must be a number from -90 to 90.")),
        _coordinate(lng, "lng", 180, _("The longitude must be a number from -180 to 180.")),
    )


def _coordinate(value: str | float | None, name: str, limit: float, message: str) -> float:
    try:
        number = float(value) if value is not None and str(value).strip() else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or abs(number) > limit:
        raise Invalid(message, fields={name: message})
    return number


def nearest(
    user: User, lat: float, lng: float, on: date, limit: int = NEAREST_LIMIT
) -> list[Nearby]:
    """The user's in-scope factories with a location, nearest first, at most `limit`."""
    # Equirectangular ranking in SQL (plain arithmetic, the same on SQLite and PostgreSQL):
    # longitude degrees shrink by cos(latitude), so scale them before comparing.
    squeeze = math.cos(math.radians(lat))
    flat_distance = (Factory.lat - literal(lat)) * (Factory.lat - literal(lat)) + (
        (Factory.lng - literal(lng)) * literal(squeeze) * (Factory.lng - literal(lng))
    ) * literal(squeeze)
    candidates = db.session.scalars(
        scope.factories(user, on)
        .where(Factory.lat.is_not(None), Factory.merged_into_id.is_(None))
        .order_by(flat_distance, Factory.id)
        .limit(limit * CANDIDATE_FACTOR)
    )
    found = [
        Nearby(factory, distance_m(lat, lng, factory.lat, factory.lng)) for factory in candidates
    ]
    found.sort(key=lambda nearby: (nearby.distance_m, nearby.factory.id))
    return found[:limit]


@dataclass(frozen=True)
class Stop:
    """A factory on the day's route: the leg from the stop before it and the total so far.

    A factory without a location has neither (it is listed after the route).
    """

    factory: Factory
    leg_m: float | None
    total_m: float | None


def tour(start: tuple[float, float] | None, factories: list[Factory]) -> list[Stop]:
    """The factories as a nearest-neighbour tour from `start`, then those without a location.

    Without a start (the phone kept its position) the tour starts at the first factory, in the
    order given, that has a location. Ties go to the factory given first.
    """
    located = [f for f in factories if f.lat is not None and f.lng is not None]
    unlocated = [Stop(f, None, None) for f in factories if f.lat is None or f.lng is None]
    if start is None:
        if not located:
            return unlocated
        start = (located[0].lat, located[0].lng)
    lat, lng = start
    stops: list[Stop] = []
    total = 0.0
    left = list(located)
    while left:
        legs = [distance_m(lat, lng, factory.lat, factory.lng) for factory in left]
        index = min(range(len(left)), key=lambda i: (legs[i], i))
        factory = left.pop(index)
        total += legs[index]
        stops.append(Stop(factory, legs[index], total))
        lat, lng = factory.lat, factory.lng
    return stops + unlocated


# GCJ-02, the "Mars" datum that Chinese map apps (Amap, Baidu's gcj02 input) expect: the stored
# WGS-84 position shifted by the published formula (Krasovsky 1940 ellipsoid). Outside mainland
# China's rough box the apps use WGS-84, so the position is left as it is.
_KRASOVSKY_A = 6_378_245.0
_KRASOVSKY_EE = 0.00669342162296594323


def in_china(lat: float, lng: float) -> bool:
    return 72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271


def _shift_lat(x: float, y: float) -> float:
    value = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    value += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    value += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return value


def _shift_lng(x: float, y: float) -> float:
    value = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    value += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    value += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    value += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    return value


def gcj02(lat: float, lng: float) -> tuple[float, float]:
    """A WGS-84 position as GCJ-02 (latitude, longitude); unchanged outside mainland China."""
    if not in_china(lat, lng):
        return lat, lng
    d_lat = _shift_lat(lng - 105.0, lat - 35.0)
    d_lng = _shift_lng(lng - 105.0, lat - 35.0)
    rad_lat = math.radians(lat)
    magic = 1 - _KRASOVSKY_EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / (
        (_KRASOVSKY_A * (1 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi
    )
    d_lng = (d_lng * 180.0) / (_KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lng + d_lng


@dataclass(frozen=True)
class Navigation:
    """Links that hand a place over to a navigation app: plain links the person taps."""

    amap: str
    baidu: str
    device: str


def navigation(name: str, lat: float, lng: float) -> Navigation:
    """Amap's and Baidu Maps' public marker URIs (GCJ-02, as those apps expect) and a geo: URI
    for the phone's own map app (RFC 5870 positions are WGS-84, so the stored one)."""
    g_lat, g_lng = gcj02(lat, lng)
    title = quote(name, safe="")
    amap = (
        f"https://uri.amap.com/marker?position={g_lng:.6f},{g_lat:.6f}"
        f"&name={title}&coordinate=gaode&callnative=1&src=factory-growth-crm"
    )
    baidu = (
        f"https://api.map.baidu.com/marker?location={g_lat:.6f},{g_lng:.6f}"
        f"&title={title}&content={title}&coord_type=gcj02&output=html&src=webapp.factory-growth-crm"
    )
    label = quote(name.replace("(", " ").replace(")", " "), safe="")
    device = f"geo:{lat:.6f},{lng:.6f}?q={lat:.6f},{lng:.6f}({label})"
    return Navigation(amap=amap, baidu=baidu, device=device)
