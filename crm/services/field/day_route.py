"""A rep's route for the day: the stops they may choose, the plan kept on the server, its moves.

The order itself is worked out by `route_plan` (pure); this module reads the records in scope,
keeps the plan (one per user and local day) and answers what the page draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select, update

from crm import scope
from crm.clock import local, today
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import Factory, RoutePlan, User
from crm.models.route_plan import ROUTE_STOPS_MAX
from crm.services.factories.list_filters import stale_condition, stale_thresholds
from crm.services.field import followups, geo, route_plan
from crm.services.privacy import consent

# "Stale factories near me": within this distance of the phone, at most this many.
NEARBY_M = 5_000
NEARBY_LIMIT = 30
METRES_PER_DEGREE = 111_320.0


@dataclass
class Choice:
    """What the rep may tick: the factories due today or overdue, and stale ones nearby."""

    due: list[Factory] = field(default_factory=list)
    nearby: list[tuple[Factory, float]] = field(default_factory=list)


@dataclass(frozen=True)
class RouteStop:
    factory: Factory
    leg: route_plan.Leg
    navigation: geo.Navigation


@dataclass
class DayRoute:
    """The kept plan as the page draws it: located stops in order, then those with no location."""

    plan: RoutePlan
    stops: list[RouteStop]
    unlocated: list[Factory]
    start: tuple[float, float] | None

    @property
    def total_m(self) -> float:
        return self.stops[-1].leg.total_m if self.stops else 0.0

    @property
    def chosen_ids(self) -> set[int]:
        return {stop.factory.id for stop in self.stops} | {f.id for f in self.unlocated}


def choice(user: User, now: datetime, position: tuple[float, float] | None, nearby: bool) -> Choice:
    """The day's due and overdue factories (in due order), and, when asked with a position,
    the stale factories in scope within 5 km that are not due already (nearest first)."""
    agenda = followups.agenda(user, now)
    due = list({item.factory.id: item.factory for item in agenda.overdue + agenda.today}.values())
    found = Choice(due=due)
    if nearby and position is not None:
        found.nearby = _stale_nearby(user, now, position, {f.id for f in due})
    return found


def _stale_nearby(
    user: User, now: datetime, position: tuple[float, float], leave_out: set[int]
) -> list[tuple[Factory, float]]:
    lat, lng = position
    d_lat = NEARBY_M / METRES_PER_DEGREE
    d_lng = d_lat / max(0.01, math.cos(math.radians(lat)))
    statement = (
        scope.factories(user, today(now))
        .where(
            Factory.lat.between(lat - d_lat, lat + d_lat),
            Factory.lng.between(lng - d_lng, lng + d_lng),
            Factory.merged_into_id.is_(None),
            stale_condition(stale_thresholds(now)),
        )
        .order_by(Factory.id)
        .limit(NEARBY_LIMIT * 4)
    )
    found = [
        (factory, geo.distance_m(lat, lng, factory.lat, factory.lng))
        for factory in db.session.scalars(statement)
        if factory.id not in leave_out
    ]
    found = [pair for pair in found if pair[1] <= NEARBY_M]
    found.sort(key=lambda pair: (pair[1], pair[0].id))
    return found[:NEARBY_LIMIT]


def _place(factory: Factory) -> route_plan.Place:
    return route_plan.Place(
        factory.id, factory.lat, factory.lng, factory.opens_at, factory.closes_at
    )


def _minute(now: datetime) -> int:
    moment = local(now)
    return moment.hour * 60 + moment.minute


def choose(
    user: User, now: datetime, factory_ids: Sequence[int], start: tuple[float, float] | None
) -> RoutePlan:
    """Keep the day's route through these factories, ordered short from `start` (and on time
    where hours are known); the day's earlier plan is replaced. An id out of scope: NotFound.

    `start` is where the user stands: kept, for the day only (`forget_past_starts`), and only
    from a user who consents to location (crm.services.privacy.consent); else the route starts
    at its first stop."""
    if not consent.consents(user):
        start = None
    wanted = list(dict.fromkeys(factory_ids))
    if not wanted:
        message = _("Tick at least one stop for today.")
        raise Invalid(message, fields={"factory": message})
    if len(wanted) > ROUTE_STOPS_MAX:
        message = ngettext(
            "A day's route holds at most %(num)d stop.",
            "A day's route holds at most %(num)d stops.",
            ROUTE_STOPS_MAX,
        )
        raise Invalid(message, fields={"factory": message})
    found = scope.get_factories(user, wanted, today(now))
    if len(found) != len(wanted):
        raise NotFound(_("This record does not exist, or is not yours to see."))
    factories = [found[i] for i in wanted]
    located = [f for f in factories if f.lat is not None and f.lng is not None]
    ordered = route_plan.plan(start, [_place(f) for f in located], _minute(now))
    ids = [place.key for place in ordered] + [f.id for f in factories if f.lat is None]
    plan = current(user, now) or RoutePlan(user_id=user.id, day=today(now))
    plan.factory_ids = ids
    plan.start_lat, plan.start_lng = start if start else (None, None)
    db.session.add(plan)
    db.session.flush()
    return plan


def forget_past_starts(now: datetime) -> int:
    """Forget where each route of an earlier day started (a person's position is kept for the
    day's route only); returns how many were forgotten. Run by the retention job."""
    result = db.session.execute(
        update(RoutePlan)
        .where(RoutePlan.day < today(now), RoutePlan.start_lat.is_not(None))
        .values(start_lat=None, start_lng=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def current(user: User, now: datetime) -> RoutePlan | None:
    """The user's plan for today, if they made one."""
    return db.session.scalar(
        select(RoutePlan).where(RoutePlan.user_id == user.id, RoutePlan.day == today(now))
    )


def move_stop(user: User, now: datetime, factory_id: int, step: int) -> RoutePlan:
    """Move a stop of today's plan one place up (-1) or down (+1); the rest keep their order."""
    plan = current(user, now)
    if plan is None or factory_id not in plan.factory_ids:
        raise NotFound(_("This record does not exist, or is not yours to see."))
    plan.factory_ids = route_plan.move(plan.factory_ids, factory_id, step)
    db.session.flush()
    return plan


def day_route(user: User, now: datetime, plan: RoutePlan) -> DayRoute:
    """The plan's stops still in scope, with legs, arrivals and navigation links."""
    found = scope.get_factories(user, plan.factory_ids, today(now))
    factories = [found[i] for i in plan.factory_ids if i in found]
    located = [f for f in factories if f.lat is not None and f.lng is not None]
    start = (plan.start_lat, plan.start_lng) if plan.start_lat is not None else None
    by_id = {f.id: f for f in located}
    legs = route_plan.schedule(start, [_place(f) for f in located], _minute(plan.updated_at))
    stops = [
        RouteStop(
            by_id[leg.place.key],
            leg,
            geo.navigation(by_id[leg.place.key].name, leg.place.lat, leg.place.lng),
        )
        for leg in legs
    ]
    return DayRoute(
        plan=plan, stops=stops, unlocated=[f for f in factories if f.lat is None], start=start
    )


def kept_apart(route: DayRoute, found: Choice) -> list[Factory]:
    """The route's factories that are neither due nor among the nearby ones (still choosable)."""
    listed = {f.id for f in found.due} | {f.id for f, _metres in found.nearby}
    factories = [stop.factory for stop in route.stops] + route.unlocated
    return [f for f in factories if f.id not in listed]
