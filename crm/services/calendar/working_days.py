"""Which day is a working day for a factory: the one rule that due dates follow.

A Saturday or Sunday is off unless the install's calendar makes it a make-up working day
(调休); a public holiday is off; a day within the factory's closure is off. Everything
that works out a due date (a cadence, a quick pick, a moved follow-up) asks `Calendar`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from crm.extensions import db
from crm.models import FactoryClosure, Holiday

# How far ahead a due date may be pushed past days off before the calendar is taken as
# broken (a closure lasts at most a year; holidays and weekends add a few weeks).
HORIZON_DAYS = 800
SATURDAY = 5


@dataclass
class Calendar:
    """The install's marked days and the factories' closures over a window of days."""

    marks: dict[date, str] = field(default_factory=dict)  # a day: "holiday" or "workday"
    closures: dict[int, list[tuple[date, date]]] = field(default_factory=dict)

    def is_working_day(self, day: date, factory_id: int | None = None) -> bool:
        """Whether the factory (or the install, without one) works on the day."""
        for first, last in self.closures.get(factory_id, ()) if factory_id else ():
            if first <= day <= last:
                return False
        kind = self.marks.get(day)
        if kind is not None:
            return kind == "workday"
        return day.weekday() < SATURDAY

    def first_working_day(self, day: date, factory_id: int | None = None) -> date:
        """The first working day from `day` on (`day` itself when it is one)."""
        limit = day + timedelta(days=HORIZON_DAYS)
        candidate = day
        while candidate < limit:
            if self.is_working_day(candidate, factory_id):
                return candidate
            candidate += timedelta(days=1)
        return day  # nothing open within the horizon: the calendar is broken, keep the day


def load(start: date, factory_ids: Iterable[int] = ()) -> Calendar:
    """The marked days and the given factories' closures from `start` over the horizon."""
    end = start + timedelta(days=HORIZON_DAYS)
    marks = {
        day: kind
        for day, kind in db.session.execute(
            select(Holiday.day, Holiday.kind).where(Holiday.day >= start, Holiday.day < end)
        )
    }
    closures: dict[int, list[tuple[date, date]]] = {}
    ids = sorted(set(factory_ids))
    for chunk_start in range(0, len(ids), 1000):
        rows = db.session.execute(
            select(FactoryClosure.factory_id, FactoryClosure.starts_on, FactoryClosure.ends_on)
            .where(
                FactoryClosure.factory_id.in_(ids[chunk_start : chunk_start + 1000]),
                FactoryClosure.ends_on >= start,
                FactoryClosure.starts_on < end,
            )
            .order_by(FactoryClosure.starts_on)
        )
        for factory_id, first, last in rows:
            closures.setdefault(factory_id, []).append((first, last))
    return Calendar(marks=marks, closures=closures)


def first_working_day(day: date, factory_id: int | None = None) -> date:
    """The first day from `day` on that the factory works (crm.services.field.followups)."""
    return load(day, [factory_id] if factory_id else []).first_working_day(day, factory_id)
