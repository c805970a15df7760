"""My week: a rep's own work per install-local week (Monday to Sunday), this week and the eight
before it, each figure set beside the rep's own earlier weeks and the median of the rest of their
team, in which no other rep is named (issue 27, "My week").

One grouped statement per figure (by person and week) for the rep and their teammates at once;
a row's week is a CASE over the weeks' bounds worked out in the install's zone, so the same
statement holds on SQLite and PostgreSQL and across a change of the clocks.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Select, case, cast, func, literal, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crm import cache, clock
from crm.extensions import db
from crm.models import Factory, FollowUp, StageChange, Task, User, Visit
from crm.scope import unowned_prospect_condition
from crm.services.pipeline.team_report import credited_rep, moved_up

EARLIER_WEEKS = 8
WEEKS = EARLIER_WEEKS + 1  # the earlier weeks, then this week
FIGURES = ("visits", "on_site", "tasks", "stages", "on_time")
SHARES = frozenset({"on_site", "on_time"})  # a percentage of a count, not a count

# The bar chart's drawing box, in SVG user units (CSS sizes it).
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 270, 64, 6


@dataclass(frozen=True)
class Tally:
    """One person's week of one figure: a count, or for a share, its part and its whole."""

    part: int = 0
    whole: int | None = None  # None: a count

    @property
    def value(self) -> float | None:
        """The count, or the share as a percentage (None for a share of nothing)."""
        if self.whole is None:
            return self.part
        return 100 * self.part / self.whole if self.whole else None


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    team_y: float | None  # where the team's median for the week is marked


@dataclass
class Figure:
    code: str
    mine: list[Tally]  # per week, oldest first; the last is this week
    team: list[float | None]  # the median of the teammates' values, per week
    bars: list[Bar] = field(default_factory=list)

    @property
    def is_share(self) -> bool:
        return self.code in SHARES

    @property
    def now(self) -> Tally:
        return self.mine[-1]

    @property
    def usual(self) -> float | None:
        """The median of the rep's earlier weeks (weeks with no share to take are left out)."""
        return _median([tally.value for tally in self.mine[:-1]])

    @property
    def team_now(self) -> float | None:
        return self.team[-1]


@dataclass
class MyWeek:
    weeks: list[date]  # each week's Monday, oldest first; the last is this week
    today: date
    figures: list[Figure]
    teammates: int  # how many others the team's medians are taken over

    @property
    def this_week(self) -> date:
        return self.weeks[-1]

    @property
    def this_week_ends(self) -> date:
        return self.this_week + timedelta(days=6)

    @property
    def is_empty(self) -> bool:
        """Nothing done in all nine weeks (a share counts what it was taken of)."""
        return not any(
            tally.part or tally.whole for figure in self.figures for tally in figure.mine
        )

    def figure(self, code: str) -> Figure:
        return next(figure for figure in self.figures if figure.code == code)


def week_starts(today: date) -> list[date]:
    """The Mondays of the eight weeks before this one and of this one, oldest first."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=back) for back in range(EARLIER_WEEKS, -1, -1)]


def teammates(rep: User) -> list[int]:
    """The other active reps of the rep's team: the people the team's median is taken over."""
    if rep.role != "rep" or rep.team_id is None:
        return []
    statement = select(User.id).where(
        User.team_id == rep.team_id, User.role == "rep", User.active.is_(True), User.id != rep.id
    )
    return list(db.session.scalars(statement))


def my_week(rep: User, now: datetime) -> MyWeek:
    """The rep's figures per week, with their teammates' medians (no teammate named)."""
    today = clock.today(now)
    weeks = week_starts(today)
    bounds = [clock.day_bounds(monday)[0] for monday in weeks]
    bounds.append(clock.day_bounds(weeks[-1] + timedelta(days=6))[1])
    others = teammates(rep)
    people = [rep.id, *others]
    counted: dict[str, dict[tuple[int, int], Tally]] = {code: {} for code in FIGURES}
    _visits(counted, people, bounds)
    _tasks(counted, people, bounds)
    _stages(counted, people, bounds, cache.team_belts(rep.team_id))
    _follow_ups(counted, people, bounds, now)
    figures = []
    for code in FIGURES:
        empty = Tally(0, 0) if code in SHARES else Tally(0)
        table = counted[code]

        def tally(person: int, week: int, table=table, empty=empty) -> Tally:
            return table.get((person, week), empty)

        mine = [tally(rep.id, week) for week in range(WEEKS)]
        team = [_median([tally(other, week).value for other in others]) for week in range(WEEKS)]
        figure = Figure(code, mine, team)
        figure.bars = bars(figure)
        figures.append(figure)
    return MyWeek(weeks, today, figures, len(others))


def bars(figure: Figure) -> list[Bar]:
    """The bar chart's geometry: one bar per week, the team's median marked across it."""
    values = [tally.value for tally in figure.mine]
    if figure.is_share:
        top = 100.0
    else:
        top = max([1.0, *(v for v in values if v), *(v for v in figure.team if v)])
    width = (CHART_WIDTH - BAR_GAP * (WEEKS - 1)) / WEEKS
    drawn = []
    for index, value in enumerate(values):
        height = round(CHART_HEIGHT * (value or 0) / top, 1)
        team = figure.team[index]
        drawn.append(
            Bar(
                x=round(index * (width + BAR_GAP), 1),
                y=round(CHART_HEIGHT - height, 1),
                width=round(width, 1),
                height=height,
                team_y=None if team is None else round(CHART_HEIGHT * (1 - team / top), 1),
            )
        )
    return drawn


def _median(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def _week_of(column, bounds: list[datetime]) -> ColumnElement[int]:
    """The index of the week a time falls in (the statement keeps it within the weeks)."""
    inner = bounds[1:-1]
    return case(*[(column < bound, index) for index, bound in enumerate(inner)], else_=len(inner))


def _within(column, bounds: list[datetime]) -> ColumnElement[bool]:
    return (column >= bounds[0]) & (column < bounds[-1])


def _visits(counted, people, bounds) -> None:
    """Visits by check-in time; on site when the check-in was not off-site (DESIGN.md
    "Check-in": near enough, precise enough and fresh enough; one checked in without a position
    is neither)."""
    week = _week_of(Visit.checked_in_at, bounds).label("week")
    on_site = func.sum(
        case((Visit.off_site.is_(False) & Visit.position_withheld.is_(False), 1), else_=0)
    )
    statement = (
        select(Visit.rep_id, week, func.count(), on_site)
        .where(Visit.rep_id.in_(people), _within(Visit.checked_in_at, bounds))
        .group_by(Visit.rep_id, week)
    )
    for person, index, count, present in db.session.execute(statement):
        counted["visits"][(person, index)] = Tally(count)
        counted["on_site"][(person, index)] = Tally(int(present or 0), count)


def _tasks(counted, people, bounds) -> None:
    """Checklist items done in the week by the person's hand: ticked (on the page or at a
    visit) or a factory's evidence accepted, both of which record who verified it; an item
    with no verifier (a delivered video) goes to the factory's rep, who owns the item."""
    credited = func.coalesce(Task.verified_by_id, Task.owner_id).label("person")
    week = _week_of(Task.completed_at, bounds).label("week")
    statement = (
        select(credited, week, func.count())
        .where(
            Task.owner_id.in_(people),
            Task.status == "done",
            _within(Task.completed_at, bounds),
        )
        .group_by(credited, week)
    )
    for person, index, count in db.session.execute(statement):
        counted["tasks"][(person, index)] = Tally(count)


def _worked_on(people: list[int], team_belts: list[int]) -> Select:
    """The factories whose moves up the team's reps can be credited with: those they own, and
    the unowned ones of their belts (a prospect that a rep asked to sign). Read by owner and by
    belt from their indexes, then each factory's changes from its own: the install's changes
    are never scanned."""
    return select(Factory.id).where(
        Factory.owner_id.in_(people) | unowned_prospect_condition(team_belts)
    )


def _stages(counted, people, bounds, team_belts) -> None:
    """Factories moved up a stage (or signed into the first) in the week, credited as the team
    page credits them: to the rep who asked, or to the factory's rep."""
    requester = aliased(User)
    credited = credited_rep(requester).label("person")
    week = _week_of(StageChange.decided_at, bounds).label("week")
    # Counted rather than filtered on: in the WHERE clause the decision's index would tempt
    # SQLite to read every applied change of the install instead of these factories' own.
    moves = func.sum(case((moved_up(), 1), else_=0))
    statement = (
        select(credited, week, moves)
        .select_from(StageChange)
        .join(Factory, Factory.id == StageChange.factory_id)
        .outerjoin(requester, requester.id == StageChange.requested_by_id)
        .where(
            StageChange.factory_id.in_(_worked_on(people, team_belts)),
            StageChange.requested_at < bounds[-1],
            _within(StageChange.decided_at, bounds),
        )
        .group_by(credited, week)
    )
    for person, index, count in db.session.execute(statement):
        counted["stages"][(person, index)] = Tally(int(count or 0))


def _follow_ups(counted, people, bounds, now) -> None:
    """Follow-ups done in the week, and how many of them on or before the day they were due
    (a date a person picks lands at 10:00: done that afternoon is still on time)."""
    week = _week_of(FollowUp.completed_at, bounds).label("week")
    on_time = _local_day(FollowUp.completed_at, now) <= _local_day(FollowUp.due_at, now)
    statement = (
        select(FollowUp.assignee_id, week, func.count(), func.sum(case((on_time, 1), else_=0)))
        .where(
            FollowUp.assignee_id.in_(people),
            FollowUp.status == "done",
            _within(FollowUp.completed_at, bounds),
        )
        .group_by(FollowUp.assignee_id, week)
    )
    for person, index, count, in_time in db.session.execute(statement):
        counted["on_time"][(person, index)] = Tally(int(in_time or 0), count)


def _local_day(column, now: datetime) -> ColumnElement:
    """The install-local day of a stored instant. PostgreSQL converts in the zone itself;
    SQLite keeps naive UTC text and knows no zones, so the zone's offset at `now` is added
    (exact for the install's default, Asia/Shanghai, which keeps one offset all year)."""
    zone = clock.zone()
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(literal(zone.key), column), Date)
    minutes = int(now.astimezone(zone).utcoffset().total_seconds() // 60)
    return func.date(column, f"{minutes:+d} minutes")
