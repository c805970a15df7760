"""Places on the earth: distances between positions, and a user's factories nearest to one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

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
