"""The reports' conversion: of the factories that entered each stage in each of the last quarters
(and in each belt), how many moved on to a later stage, and the median days they spent in it.

Counted in one statement, whatever the factories: a stage is entered by an applied change into
an active stage (from a prospect, or from another stage), and left by the next change of that
factory that moves its stage or churns it. The chain of changes holds (each starts from where
the one before ended, as stages_over_time relies on too), so the next such change is the one
that leaves: a pause and a resume in between stay in the stage. A factory whose current stage
was entered in the period without a recorded change counts from `stage_entered_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from crm import clock
from crm.clock import day_bounds
from crm.extensions import db
from crm.models import STAGES, Belt, Factory, StageChange, User
from crm.models.types import UTCDateTime
from crm.services.reports.reports import (
    APPLIED,
    Narrow,
    _in_scope,
    _scoped,
    _shift_month,
    changes_by_factory,
)

QUARTERS = 4


@dataclass
class Cohort:
    """The factories that entered a stage in a period, and what became of them."""

    entered: int = 0
    moved_on: int = 0
    median_days: int | None = None  # time in stage of those that left it

    @property
    def rate(self) -> int | None:
        return round(100 * self.moved_on / self.entered) if self.entered else None


@dataclass
class Conversion:
    quarters: list[str]  # "2026 Q3", oldest first
    stages: tuple[str, ...]
    by_quarter: dict[tuple[str, str], Cohort]  # (stage, quarter)
    belts: list[Belt]
    by_belt: dict[tuple[int, str], Cohort]  # (belt id, stage), every quarter together

    def cohort(self, stage: str, quarter: str) -> Cohort:
        return self.by_quarter.get((stage, quarter), Cohort())

    def belt_cohort(self, belt_id: int, stage: str) -> Cohort:
        return self.by_belt.get((belt_id, stage), Cohort())


def quarter_of(day: date) -> str:
    return f"{day.year} Q{(day.month - 1) // 3 + 1}"


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


# What the statement's rows are: a cohort's counts, or one of the (one or two) middle stays
# of a cohort whose median they give; by quarter of entry or by belt.
_COUNT_QUARTER, _COUNT_BELT, _MIDDLE_QUARTER, _MIDDLE_BELT = range(4)


def conversion(
    actor: User,
    belt_id: Narrow | int | None,
    now: datetime,
    quarters: int = QUARTERS,
    *,
    period: tuple[date, date, str] | None = None,
) -> Conversion:
    """Of the factories that entered each stage in each of the last quarters (or in each quarter
    of a period, from its first day to its last), how many moved on to a later stage by now,
    and the median days they spent in it (for those that left it)."""
    if period is None:
        this_quarter = _quarter_start(clock.today(now))
        firsts = [_shift_month(this_quarter, -3 * back) for back in range(quarters - 1, -1, -1)]
        since, until = day_bounds(firsts[0])[0], now
    else:
        start, end, _granularity = period
        first, last = _quarter_start(start), _quarter_start(end)
        count = ((last.year - first.year) * 12 + last.month - first.month) // 3 + 1
        firsts = [_shift_month(first, 3 * index) for index in range(count)]
        since, until = day_bounds(start)[0], min(day_bounds(end)[1], now)
    quarters = len(firsts)
    starts = [since, *(day_bounds(first)[0] for first in firsts[1:])]
    entries = _entries(actor, belt_id, now, since, until)
    whens = [(entries.c.entered_at < start, index) for index, start in enumerate(starts[1:])]
    quarter = case(*whens, else_=quarters - 1) if whens else literal(0)
    keys = {_COUNT_QUARTER: quarter, _COUNT_BELT: entries.c.belt_id}
    parts = [
        select(
            literal(kind),
            key,
            entries.c.stage,
            func.count(),
            func.sum(entries.c.moved_on),
            cast(null(), UTCDateTime),
            cast(null(), UTCDateTime),
        ).group_by(key, entries.c.stage)
        for kind, key in keys.items()
    ]
    for kind, key in ((_MIDDLE_QUARTER, quarter), (_MIDDLE_BELT, entries.c.belt_id)):
        ranked = _ranked(entries, key)
        parts.append(
            select(
                literal(kind),
                ranked.c.key,
                ranked.c.stage,
                literal(0),
                literal(0),
                ranked.c.entered_at,
                ranked.c.left_at,
            ).where(ranked.c.place.between((ranked.c.stays + 1) // 2, ranked.c.stays // 2 + 1))
        )
    labels = [quarter_of(first) for first in firsts]
    by_quarter: dict[tuple[str, str], Cohort] = {}
    by_belt: dict[tuple[int, str], Cohort] = {}
    middles: dict[tuple[int, object, str], list[float]] = {}
    for kind, key, stage, count, moved_on, entered_at, left_at in db.session.execute(
        union_all(*parts)
    ):
        if kind in (_MIDDLE_QUARTER, _MIDDLE_BELT):
            days = (left_at - entered_at).total_seconds() / 86400
            middles.setdefault((kind, key, stage), []).append(days)
            continue
        cohort = Cohort(int(count), int(moved_on or 0))
        if kind == _COUNT_QUARTER:
            by_quarter[(stage, labels[int(key)])] = cohort
        else:
            by_belt[(key, stage)] = cohort
    for (kind, key, stage), days in middles.items():
        median = round(sum(days) / len(days))
        if kind == _MIDDLE_QUARTER:
            by_quarter[(stage, labels[int(key)])].median_days = median
        else:
            by_belt[(key, stage)].median_days = median
    belt_ids = sorted({belt for belt, _stage in by_belt})
    belts = list(db.session.scalars(select(Belt).where(Belt.id.in_(belt_ids)).order_by(Belt.code)))
    return Conversion(labels, STAGES, by_quarter, belts, by_belt)


def _enters() -> ColumnElement[bool]:
    """A change that enters a stage: into an active stage, from a prospect or another stage."""
    return and_(
        StageChange.to_status == "active",
        StageChange.to_stage.in_(STAGES),
        or_(
            StageChange.from_status == "prospect",
            StageChange.from_stage.is_distinct_from(StageChange.to_stage),
        ),
    )


def _rank(stage: ColumnElement) -> ColumnElement[int]:
    """A stage's place in STAGES (-1 for none)."""
    return case(*((stage == name, index) for index, name in enumerate(STAGES)), else_=-1)


def _entries(
    actor: User, belt_id: Narrow | int | None, now: datetime, since: datetime, until: datetime
):
    """Every stage entered from `since` until before `until` in scope: (belt, stage, entered
    at, left at or none, 1 if it moved on to a later stage by now). A change that enters a
    stage or leaves one (a move, a churn) is followed by the factory's next such change, which
    is where the stay ends (whenever that was)."""
    applied = and_(StageChange.decision.in_(APPLIED), StageChange.decided_at >= since)
    order = {
        "partition_by": StageChange.factory_id,
        "order_by": (StageChange.decided_at, StageChange.id),
    }
    moves = changes_by_factory(
        select(
            Factory.belt_id,
            StageChange.to_stage,
            StageChange.decided_at,
            case((_enters(), 1), else_=0).label("enters"),
            func.lead(StageChange.decided_at).over(**order).label("left_at"),
            func.lead(StageChange.to_status).over(**order).label("next_status"),
            func.lead(StageChange.to_stage).over(**order).label("next_stage"),
        )
        .join(Factory, Factory.id == StageChange.factory_id)
        .where(
            applied,
            _in_scope(StageChange.factory_id, actor, belt_id, now),
            or_(
                StageChange.to_status == "churned",
                StageChange.from_status == "prospect",
                StageChange.from_stage.is_distinct_from(StageChange.to_stage),
            ),
        ),
        actor,
        belt_id,
    ).subquery()
    later = _rank(moves.c.next_stage) > _rank(moves.c.to_stage)
    moved_on = and_(moves.c.next_status == "active", later)
    recorded = select(
        moves.c.belt_id,
        moves.c.to_stage.label("stage"),
        moves.c.decided_at.label("entered_at"),
        moves.c.left_at,
        case((moved_on, 1), else_=0).label("moved_on"),
    ).where(moves.c.enters == 1, moves.c.decided_at < until)
    entered_by_change = (
        exists()
        .where(
            StageChange.factory_id == Factory.id,
            applied,
            _enters(),
            StageChange.to_stage == Factory.stage,
        )
        .correlate(Factory)
    )
    unrecorded = (
        _scoped(actor, belt_id, now)
        .where(
            Factory.stage_entered_at >= since,
            Factory.stage_entered_at < until,
            Factory.stage.is_not(None),
            ~entered_by_change,
        )
        .with_only_columns(
            Factory.belt_id,
            Factory.stage,
            Factory.stage_entered_at,
            cast(null(), UTCDateTime),
            literal(0),
        )
    )
    return union_all(recorded, unrecorded).cte("entries")


def _ranked(entries, key: ColumnElement):
    """The stays that ended, numbered by length within their cohort (`key` and stage), with
    how many there are: the median is the middle one, or the mean of the middle two."""
    partition = {"partition_by": (key, entries.c.stage)}
    length = _length(entries.c.left_at, entries.c.entered_at)
    return (
        select(
            key.label("key"),
            entries.c.stage,
            entries.c.entered_at,
            entries.c.left_at,
            func.row_number().over(order_by=length, **partition).label("place"),
            func.count().over(**partition).label("stays"),
        )
        .where(entries.c.left_at.is_not(None))
        .subquery()
    )


def _length(left_at: ColumnElement, entered_at: ColumnElement) -> ColumnElement:
    """A stay's length, to order by: an interval on PostgreSQL, days on SQLite (its instants
    are text)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.julianday(left_at) - func.julianday(entered_at)
    return left_at - entered_at
