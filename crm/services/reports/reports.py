"""The manager's reports, in the actor's scope (and one belt if asked): factories per stage over
time, stage-to-stage conversion and median time in stage by quarter of entry and by belt,
visits per week by rep, and how many factories meet each measured target of their stage.

The history comes from the applied stage changes (approved or direct); a factory whose
current stage was entered without a recorded change counts from `stage_entered_at`. Each
report is a fixed number of grouped statements, whatever the factories and the periods: the
rows read back are counts, never one per factory, change or visit. Conversion and targets
are in modules of their own (report_conversion, report_targets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, case, func, literal, select, true

from crm import clock, scope
from crm.clock import day_bounds
from crm.extensions import db
from crm.models import STAGES, Factory, StageChange, User, Visit

APPLIED = ("approved", "direct")
TREND_COLUMNS = ("prospect", *STAGES, "paused")
MONTHS = 12
WEEKS = 12


GRANULARITIES = ("day", "week", "month")
# At most this many bars in a chart: a longer period is asked for by a coarser granularity.
MAX_BUCKETS = 62


@dataclass(frozen=True)
class Narrow:
    """What a report is narrowed to: one belt, one rep's factories (their owner), or both."""

    belt_id: int | None = None
    rep_id: int | None = None


def _narrow(value: Narrow | int | None) -> Narrow:
    return value if isinstance(value, Narrow) else Narrow(belt_id=value)


def _scoped(actor: User, belt_id: Narrow | int | None, now: datetime) -> Select:
    """The factories in the actor's scope, narrowed to a belt (an id) or by a Narrow."""
    narrow = _narrow(belt_id)
    statement = scope.factories(actor, clock.today(now))
    if narrow.belt_id is not None:
        statement = statement.where(Factory.belt_id == narrow.belt_id)
    if narrow.rep_id is not None:
        statement = statement.where(Factory.owner_id == narrow.rep_id)
    return statement


def _ids(actor: User, belt_id: Narrow | int | None, now: datetime) -> Select:
    return _scoped(actor, belt_id, now).with_only_columns(Factory.id)


def _in_scope(
    factory_id: ColumnElement[int], actor: User, belt_id: Narrow | int | None, now: datetime
) -> ColumnElement[bool]:
    """A factory id (a visit's, a change's, a task's) among the factories in scope. The whole
    install, not narrowed (an admin's), needs no condition: a subquery that every factory
    passes would only make the planners read all the factories as well."""
    if scope.sees_whole_install(actor) and _narrow(belt_id) == Narrow():
        return true()
    return factory_id.in_(_ids(actor, belt_id, now))


def changes_by_factory(statement: Select, actor: User, belt_id: Narrow | int | None) -> Select:
    """A statement over the stage changes of a part of the install, told to read them factory by
    factory from ix_stage_changes_factory_decided. SQLite without planner statistics (an
    install never runs ANALYZE) would rather read every applied change by its decision; the
    whole install is read in full either way."""
    if scope.sees_whole_install(actor) and _narrow(belt_id) == Narrow():
        return statement
    return statement.with_hint(
        StageChange, "INDEXED BY ix_stage_changes_factory_decided", dialect_name="sqlite"
    )


def buckets(start: date, end: date, granularity: str) -> list[date]:
    """The first day of each day, week (its Monday) or month from `start` to `end`."""
    if granularity == "month":
        first, last = start.replace(day=1), end.replace(day=1)
        count = (last.year - first.year) * 12 + last.month - first.month + 1
        return [_shift_month(first, index) for index in range(count)]
    step = 7 if granularity == "week" else 1
    first = start - timedelta(days=start.weekday()) if granularity == "week" else start
    return [first + timedelta(days=day) for day in range(0, (end - first).days + 1, step)]


def default_start(end: date, granularity: str) -> date:
    """The first day of the default period ending on `end`: twelve months (the current one
    included), twelve weeks, or thirty days."""
    if granularity == "month":
        index = end.year * 12 + end.month - 1 - (MONTHS - 1)
        return date(index // 12, index % 12 + 1, 1)
    if granularity == "week":
        return end - timedelta(days=end.weekday()) - timedelta(weeks=WEEKS - 1)
    return end - timedelta(days=29)


def default_period(today: date, granularity: str) -> tuple[date, date, str]:
    """The period the reports show when none is chosen: up to today, by its granularity."""
    return default_start(today, granularity), today, granularity


def bucket_after(first: date, granularity: str) -> date:
    """The first day of the bucket after the one starting on `first`."""
    if granularity == "month":
        return _shift_month(first, 1)
    return first + timedelta(days=7 if granularity == "week" else 1)


def _shift_month(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


# --- factories per stage over time ----------------------------------------------------------


@dataclass
class StageTrend:
    months: list[date]  # each period's first day (a month's, by default), oldest first
    counts: list[dict[str, int]]  # per period: column -> factories at its end (or now)
    granularity: str = "month"

    @property
    def highest(self) -> int:
        return max((sum(month.values()) for month in self.counts), default=0)


def stages_over_time(
    actor: User,
    belt_id: Narrow | int | None,
    now: datetime,
    months: int = MONTHS,
    *,
    period: tuple[date, date, str] | None = None,
) -> StageTrend:
    """How many factories sat in each column at the end of each of the last months.

    Three grouped statements, whatever the months and the factories: each factory's column
    now (those made before the first month-end counted plainly, the rest by the month-ends
    they were made before), and the applied changes since the first month-end, counted by
    the month-ends they fall after and the month-ends their factory existed at. Walking back
    from now, a factory's column at a month-end is its column now with every later change
    undone; the chain of changes holds (each starts from where the one before ended), so the
    sums suffice.
    """
    granularity, until = "month", now
    if period is None:
        this_month = clock.today(now).replace(day=1)
        firsts = [_shift_month(this_month, -back) for back in range(months - 1, -1, -1)]
    else:
        start, end, granularity = period
        firsts, until = buckets(start, end, granularity), min(day_bounds(end)[1], now)
    ends = [min(day_bounds(bucket_after(first, granularity))[0], until) for first in firsts]

    def after(column) -> ColumnElement[int]:
        """How many of the month-ends the instant falls after (0: none, `months`: all)."""
        return sum((case((column > end, 1), else_=0) for end in ends), start=literal(0))

    created = after(Factory.created_at).label("created")
    # Most factories were made before the first period's end and count in every period: a
    # plain count by column; only the few made later are told apart by when.
    current = db.session.execute(
        _scoped(actor, belt_id, now)
        .where(Factory.created_at <= ends[0])
        .with_only_columns(literal(0), Factory.status, Factory.stage, func.count())
        .group_by(Factory.status, Factory.stage)
    ).all()
    current += db.session.execute(
        _scoped(actor, belt_id, now)
        .where(Factory.created_at > ends[0])
        .with_only_columns(created, Factory.status, Factory.stage, func.count())
        .group_by(created, Factory.status, Factory.stage)
    ).all()
    decided = after(StageChange.decided_at).label("decided")
    changes = db.session.execute(
        changes_by_factory(
            select(
                created,
                decided,
                StageChange.from_status,
                StageChange.from_stage,
                StageChange.to_status,
                StageChange.to_stage,
                func.count(),
            )
            .join(Factory, Factory.id == StageChange.factory_id)
            .where(
                StageChange.decision.in_(APPLIED),
                StageChange.decided_at > ends[0],
                _in_scope(StageChange.factory_id, actor, belt_id, now),
            )
            .group_by(
                created,
                decided,
                StageChange.from_status,
                StageChange.from_stage,
                StageChange.to_status,
                StageChange.to_stage,
            ),
            actor,
            belt_id,
        )
    ).all()
    counts = [dict.fromkeys(TREND_COLUMNS, 0) for _ in ends]
    for born, status, stage, count in current:
        # A factory made after the i-th month-end is not counted at it.
        for index in range(born, len(ends)):
            _add(counts[index], status, stage, count)
    for born, later, from_status, from_stage, to_status, to_stage, count in changes:
        # A change after the i-th month-end is undone there (for a factory that existed).
        for index in range(born, later):
            _add(counts[index], to_status, to_stage, -count)
            _add(counts[index], from_status, from_stage, count)
    return StageTrend(firsts, counts, granularity)


def _add(counts: dict[str, int], status: str | None, stage: str | None, number: int) -> None:
    column = stage if status == "active" else status
    if column in counts:
        counts[column] += number


# --- visits per week by rep ---------------------------------------------------------------


@dataclass
class VisitWeeks:
    weeks: list[date]  # each week's Monday (each period's first day), oldest first
    rows: list[tuple[User, list[int]]]  # per rep: visits in each week
    granularity: str = "week"

    @property
    def highest(self) -> int:
        return max((max(counts) for _rep, counts in self.rows), default=0)


def visits_per_week(
    actor: User,
    belt_id: Narrow | int | None,
    now: datetime,
    weeks: int = WEEKS,
    *,
    period: tuple[date, date, str] | None = None,
) -> VisitWeeks:
    """Visits to factories in scope per rep and week (Monday to Sunday, install time), or per
    day, week or month of a period (from its first day to its last)."""
    granularity = "week"
    if period is None:
        today = clock.today(now)
        monday = today - timedelta(days=today.weekday())
        mondays = [monday - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]
        bounds = [day_bounds(day)[0] for day in mondays]
        bounds.append(day_bounds(monday + timedelta(days=7))[0])
    else:
        start, end, granularity = period
        mondays = buckets(start, end, granularity)
        bounds = [day_bounds(start)[0], *(day_bounds(day)[0] for day in mondays[1:])]
        bounds.append(day_bounds(end)[1])
    weeks = len(mondays)
    whens = [(Visit.checked_in_at < bound, index) for index, bound in enumerate(bounds[1:-1])]
    bucket = (case(*whens, else_=weeks - 1) if whens else literal(0)).label("week")
    rows = db.session.execute(
        select(Visit.rep_id, bucket, func.count())
        .where(
            Visit.checked_in_at >= bounds[0],
            Visit.checked_in_at < bounds[-1],
            _in_scope(Visit.factory_id, actor, belt_id, now),
        )
        .group_by(Visit.rep_id, bucket)
    ).all()
    counts: dict[int, list[int]] = {}
    for rep_id, week, count in rows:
        counts.setdefault(rep_id, [0] * weeks)[int(week)] += count
    reps = db.session.scalars(select(User).where(User.id.in_(list(counts)))).all()
    ordered = sorted(reps, key=lambda rep: (-sum(counts[rep.id]), rep.name))
    return VisitWeeks(mondays, [(rep, counts[rep.id]) for rep in ordered], granularity)


# The targets and conversion reports live in modules of their own, answered from here too.
_MOVED = {
    "Attainment": "report_targets",
    "target_attainment": "report_targets",
    "target_condition": "report_targets",
    "Cohort": "report_conversion",
    "Conversion": "report_conversion",
    "conversion": "report_conversion",
    "quarter_of": "report_conversion",
    "QUARTERS": "report_conversion",
}


def __getattr__(name: str):
    if name in _MOVED:
        from importlib import import_module

        return getattr(import_module(f"crm.services.reports.{_MOVED[name]}"), name)
    raise AttributeError(name)
