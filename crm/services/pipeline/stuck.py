"""Stuck factories: stale, overdue, long in stage, or eligible but not yet requested, each list
sorted by how long the factory has waited (longest first), in the actor's scope.

Every list is one filtered, ordered SELECT (and a count), the conditions in SQL: stale and
overdue are the factory list's (crm.services.factories.list_filters); *long in stage* is the time in
stage without the paused days over the stage's own expected time (the admin's setting
`long_in_stage_days`; a stage without one, University by default, is never long), for active
factories, the farthest past its expected time first; *eligible, not requested* is
`eligible_since` set with no request pending. Each row carries the visit a manager planned for
it, if any (crm.services.field.followups.planned).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Float, Select, and_, case, exists, false, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from crm import clock, scope
from crm.extensions import db
from crm.models import STAGES, Factory, FollowUp, StageChange, User
from crm.models.types import UTCDateTime
from crm.services.factories.factory_page import days_in_stage
from crm.services.factories.list_filters import (
    eligible_condition,
    overdue_condition,
    stale_condition,
    stale_thresholds,
)
from crm.services.field import followups
from crm.services.install import settings
from crm.values import id_or_none

KINDS = ("stale", "overdue", "long", "eligible")
PAGE_SIZE = 50


class days_between(FunctionElement):  # a SQL function, named as one
    """Days (with fraction) from instant column `start` to the instant `end`, on both databases."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "sqlite")
def _days_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"(julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)}))"
    )


@compiles(days_between)
def _days_default(element, compiler, **kw):
    start, end = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
        f"{compiler.process(start, **kw)})) / 86400.0)"
    )


def _now(now: datetime):
    # Bound through the column type, so that SQLite reads it as it stores instants.
    return literal(now, UTCDateTime())


@dataclass(frozen=True)
class StuckFilters:
    kind: str = "stale"
    belt: str = ""
    rep: str = ""
    page: int = 1

    def query(self, **changes) -> dict[str, str | int]:
        values = replace(self, **changes)
        query: dict[str, str | int] = {
            name: value
            for name, value in (("kind", values.kind), ("belt", values.belt), ("rep", values.rep))
            if value
        }
        if values.page > 1:
            query["page"] = values.page
        return query


@dataclass
class StuckRow:
    factory: Factory
    since: datetime | None  # since when it has waited
    days: int  # how long: no visit, overdue, in stage, or eligible for
    limit: int | None = None  # long in stage: the stage's expected time in days
    planned: FollowUp | None = None  # the visit a manager planned for the factory's rep

    @property
    def past(self) -> int:
        """Long in stage: the days beyond the stage's expected time."""
        return max(self.days - (self.limit or 0), 0)


@dataclass
class StuckList:
    rows: list[StuckRow]
    total: int
    counts: dict[str, int]
    filters: StuckFilters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def long_limits() -> dict[str, int]:
    """Each stage's expected time in days; a stage left empty is never long in stage."""
    limits = settings.get("long_in_stage_days") or {}
    return {stage: int(limits[stage]) for stage in STAGES if limits.get(stage) not in (None, "")}


def overshoot(now: datetime, limits: dict[str, int]):
    """How many days past its stage's expected time a factory is (for the order)."""
    if not limits:
        return literal(0)
    return time_in_stage(now) - case(
        *((Factory.stage == stage, limit) for stage, limit in limits.items()), else_=0
    )


def time_in_stage(now: datetime):
    """Days in the current stage without the paused days (an active factory is not paused now)."""
    return days_between(Factory.stage_entered_at, _now(now)) - Factory.paused_days


def long_condition(now: datetime, limits: dict[str, int]) -> ColumnElement[bool]:
    branches = [
        and_(Factory.stage == stage, time_in_stage(now) > limit) for stage, limit in limits.items()
    ]
    if not branches:
        return false()
    return and_(Factory.status == "active", Factory.stage_entered_at.is_not(None), or_(*branches))


def not_requested_condition() -> ColumnElement[bool]:
    pending = exists().where(
        StageChange.factory_id == Factory.id, StageChange.decision == "pending"
    )
    return and_(Factory.status == "active", eligible_condition(), ~pending)


def _since(kind: str):
    """The instant each list counts the wait from; the oldest comes first."""
    if kind == "stale":
        return func.coalesce(Factory.last_visit_at, Factory.stage_entered_at, Factory.created_at)
    if kind == "overdue":
        return Factory.next_follow_up_at
    if kind == "long":
        return Factory.stage_entered_at
    return Factory.eligible_since


def _condition(kind: str, now: datetime, thresholds, limits) -> ColumnElement[bool]:
    if kind == "stale":
        return stale_condition(thresholds)
    if kind == "overdue":
        return overdue_condition(now)
    if kind == "long":
        return long_condition(now, limits)
    return not_requested_condition()


def list_condition(kind: str, now: datetime, thresholds) -> ColumnElement[bool]:
    """One list's condition, as counted here: the factory list narrows with it (drill)."""
    return _condition(kind, now, thresholds, long_limits())


def _base(actor: User, filters: StuckFilters, now: datetime) -> Select:
    statement = scope.factories(actor, clock.today(now))
    if (belt_id := id_or_none(filters.belt)) is not None:
        statement = statement.where(Factory.belt_id == belt_id)
    if filters.rep == "unowned":
        statement = statement.where(Factory.owner_id.is_(None))
    elif (rep_id := id_or_none(filters.rep)) is not None:
        statement = statement.where(Factory.owner_id == rep_id)
    return statement


def stuck(actor: User, filters: StuckFilters, now: datetime) -> StuckList:
    """One page of one list, with the count of every list for the tabs."""
    if filters.kind not in KINDS:
        filters = replace(filters, kind=KINDS[0])
    thresholds, limits = stale_thresholds(now), long_limits()
    conditions = {kind: _condition(kind, now, thresholds, limits) for kind in KINDS}
    # One statement counts the four lists: a sum of each condition over the scoped factories.
    sums = (func.coalesce(func.sum(case((conditions[kind], 1), else_=0)), 0) for kind in KINDS)
    count_row = db.session.execute(_base(actor, filters, now).with_only_columns(*sums)).one()
    counts = dict(zip(KINDS, (int(value or 0) for value in count_row), strict=True))
    total = counts[filters.kind]
    pages = max(1, -(-total // PAGE_SIZE))
    filters = replace(filters, page=min(max(filters.page, 1), pages))
    rows = stuck_rows(actor, filters, now, thresholds, limits, PAGE_SIZE, filters.page)
    return StuckList(rows, total, counts, filters)


def stuck_rows(
    actor: User,
    filters: StuckFilters,
    now: datetime,
    thresholds=None,
    limits=None,
    size: int | None = None,
    page: int = 1,
) -> list[StuckRow]:
    """The rows of one list, longest waiting first; all of them when `size` is None (export)."""
    thresholds = thresholds if thresholds is not None else stale_thresholds(now)
    limits = limits if limits is not None else long_limits()
    since = _since(filters.kind)
    statement = (
        _base(actor, filters, now)
        .where(_condition(filters.kind, now, thresholds, limits))
        .options(joinedload(Factory.belt), joinedload(Factory.owner))
        .order_by(since.asc(), Factory.id)
    )
    if filters.kind == "long":
        statement = statement.order_by(None).order_by(overshoot(now, limits).desc(), Factory.id)
    if size is not None:
        statement = statement.offset((page - 1) * size).limit(size)
    rows = [_row(factory, filters.kind, now, limits) for factory in db.session.scalars(statement)]
    planned = followups.planned([row.factory.id for row in rows])
    for row in rows:
        row.planned = planned.get(row.factory.id)
    return rows


def _row(factory: Factory, kind: str, now: datetime, limits: dict[str, int]) -> StuckRow:
    if kind == "stale":
        since = factory.last_visit_at or factory.stage_entered_at or factory.created_at
    elif kind == "overdue":
        since = factory.next_follow_up_at
    elif kind == "long":
        since = factory.stage_entered_at
    else:
        since = factory.eligible_since
    if kind == "long":
        days = days_in_stage(factory, now) or 0
    else:
        days = max((now - since).days, 0) if since else 0
    limit = limits.get(factory.stage or "") if kind == "long" else None
    return StuckRow(factory, since, days, limit)
