"""The team page: per rep over a period, the depth of their work (visits and the off-site share,
tasks completed, promotions achieved), what is falling behind (overdue follow-ups, stale
factories), the factories they own by stage, and signings last (DESIGN.md "Who uses it":
compare reps by depth of work, not by signings alone).

One grouped statement per kind of record (visits, factories, tasks, stage changes), whatever
the number of reps or factories; every figure counts records in the actor's scope only. The
figures and the order cover every rep; a page draws PAGE_SIZE of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crm import clock, scope
from crm.clock import day_bounds
from crm.extensions import db
from crm.models import STAGES, Factory, StageChange, Task, User, Visit, VisitReview
from crm.services.factories.list_filters import (
    overdue_condition,
    stale_condition,
    stale_thresholds,
)
from crm.services.pipeline import drill
from crm.services.trust import flagged

OWNED_COLUMNS = ("prospect", *STAGES, "paused")
SORTS = (
    "name",
    "visits",
    "offsite",
    "tasks",
    "promotions",
    "overdue",
    "stale",
    "owned",
    "flagged",
    "signings",
)
MAX_DAYS = 366
# Reps a page draws: an admin's install has about a thousand, each row with its links and bar.
# The figures, the order and the totals are worked out over every rep, the page only draws
# its share (and the export holds them all).
PAGE_SIZE = 50
APPLIED = ("approved", "direct")
COUNTED = (
    "visits",
    "offsite",
    "tasks",
    "promotions",
    "signings",
    "overdue",
    "stale",
    "flagged",
    "accepted",
    "disputed",
)


@dataclass
class RepRow:
    rep: User | None  # None for the totals row
    visits: int = 0
    offsite: int = 0
    tasks: int = 0
    promotions: int = 0
    signings: int = 0
    overdue: int = 0
    stale: int = 0
    # Visits of the period flagged for review (crm.services.trust.flagged), and of those,
    # how many a manager accepted and how many were disputed (answered or closed since).
    flagged: int = 0
    accepted: int = 0
    disputed: int = 0
    owned: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OWNED_COLUMNS, 0))

    @property
    def offsite_share(self) -> int | None:
        """Off-site check-ins as a whole percentage of the visits (None without visits)."""
        return round(100 * self.offsite / self.visits) if self.visits else None

    @property
    def owned_total(self) -> int:
        return sum(self.owned.values())

    def sort_key(self, sort: str):
        if sort == "name":
            return self.rep.name.lower() if self.rep else ""
        if sort == "offsite":
            return self.offsite_share if self.offsite_share is not None else -1
        if sort == "owned":
            return self.owned_total
        return getattr(self, sort)


@dataclass
class TeamReport:
    rows: list[RepRow]  # every rep in the report's order: the totals and the export read all
    start: date
    end: date
    sort: str
    descending: bool
    page: int = 1

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.rows) // PAGE_SIZE))

    @property
    def shown(self) -> list[RepRow]:
        """The page's reps."""
        return self.rows[(self.page - 1) * PAGE_SIZE : self.page * PAGE_SIZE]

    @property
    def totals(self) -> RepRow:
        total = RepRow(rep=None)
        for row in self.rows:
            for name in COUNTED:
                setattr(total, name, getattr(total, name) + getattr(row, name))
            for column in OWNED_COLUMNS:
                total.owned[column] += row.owned[column]
        return total


def reps_of(actor: User) -> list[User]:
    """The reps a manager leads (through their teams); an admin sees every rep."""
    statement = select(User).where(User.role == "rep").order_by(User.name, User.id)
    if actor.role == "manager":
        statement = statement.where(User.team_id.in_([team.id for team in actor.led_teams]))
    elif actor.role != "admin":
        return []
    return list(db.session.scalars(statement))


def period(
    start: date | None, end: date | None, now: datetime, days: int = 30
) -> tuple[date, date]:
    """The period asked for, or the last `days` days; in order, and at most MAX_DAYS long."""
    end = end or clock.today(now)
    start = start or date.fromordinal(end.toordinal() - days + 1)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = date.fromordinal(end.toordinal() - MAX_DAYS + 1)
    return start, end


def team_report(
    actor: User,
    start: date,
    end: date,
    now: datetime,
    sort: str = "visits",
    descending: bool = True,
    page: int = 1,
) -> TeamReport:
    """Every rep's figures over the period, in the order asked for; `page` (kept within the
    pages there are) says which of them the page draws."""
    reps = reps_of(actor)
    rows = {rep.id: RepRow(rep) for rep in reps}
    if rows:
        since, until = day_bounds(start)[0], day_bounds(end)[1]
        on = clock.today(now)
        ids = list(rows)
        # The factories' own statements test the scope's condition on their rows; the others
        # keep the records of factories in scope (for an admin: none to test, scope.py).
        factories = scope.factory_condition(actor, on)
        _visits(rows, ids, scope.of_factories_in_scope(Visit.factory_id, actor, on), since, until)
        _owned(rows, ids, factories, now)
        _tasks(rows, ids, scope.of_factories_in_scope(Task.factory_id, actor, on), since, until)
        _promotions(rows, ids, factories, since, until)
        _flags(rows, ids, scope.of_factories_in_scope(Visit.factory_id, actor, on), since, until)
    sort = sort if sort in SORTS else "visits"
    ordered = sorted(rows.values(), key=lambda row: row.rep.name.lower())
    ordered.sort(key=lambda row: row.sort_key(sort), reverse=descending)
    report = TeamReport(ordered, start, end, sort, descending)
    report.page = min(max(page, 1), report.pages)
    return report


def _visits(rows, ids, in_scope, since, until) -> None:
    statement = (
        select(
            Visit.rep_id,
            func.count(),
            func.coalesce(func.sum(case((Visit.off_site.is_(True), 1), else_=0)), 0),
        )
        .where(
            Visit.rep_id.in_(ids),
            in_scope,
            Visit.checked_in_at >= since,
            Visit.checked_in_at < until,
        )
        .group_by(Visit.rep_id)
    )
    for rep_id, count, offsite in db.session.execute(statement):
        rows[rep_id].visits, rows[rep_id].offsite = count, int(offsite)


def _owned(rows, ids, in_scope, now) -> None:
    """Each rep's factories per column, and those overdue and stale, in one reading of their
    factories. Each is counted with the factory list's own condition (drill.column_condition,
    its overdue and stale flags), so a count opens as that list (owner and column or flag)."""

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    statement = (
        select(
            Factory.owner_id,
            counted(overdue_condition(now)),
            counted(stale_condition(stale_thresholds(now))),
            *(counted(drill.column_condition(column)) for column in OWNED_COLUMNS),
        )
        .where(Factory.owner_id.in_(ids), in_scope)
        .group_by(Factory.owner_id)
    )
    for owner_id, overdue, stale, *counts in db.session.execute(statement):
        row = rows[owner_id]
        row.overdue, row.stale = int(overdue), int(stale)
        row.owned = dict(zip(OWNED_COLUMNS, map(int, counts), strict=True))


def _tasks(rows, ids, in_scope, since, until) -> None:
    statement = (
        select(Task.owner_id, func.count())
        .where(
            Task.owner_id.in_(ids),
            in_scope,
            Task.status == "done",
            Task.completed_at >= since,
            Task.completed_at < until,
        )
        .group_by(Task.owner_id)
    )
    for owner_id, count in db.session.execute(statement):
        rows[owner_id].tasks = count


def moved_up() -> ColumnElement[bool]:
    """An applied move up: a prospect signed into a stage, or an active factory a stage up."""
    rank = case({stage: index for index, stage in enumerate(STAGES)}, value=StageChange.to_stage)
    from_rank = case(
        {stage: index for index, stage in enumerate(STAGES)}, value=StageChange.from_stage
    )
    return (
        StageChange.decision.in_(APPLIED)
        & (StageChange.to_status == "active")
        & (
            (StageChange.from_status == "prospect")
            | ((StageChange.from_status == "active") & (rank > from_rank))
        )
    )


def credited_rep(requester) -> ColumnElement[int]:
    """Who a move up is credited to: the rep who asked, or the factory's rep when a manager or
    admin moved it directly (`requester` is the User aliased to the change's requester, and
    the statement joins Factory)."""
    return case((requester.role == "rep", StageChange.requested_by_id), else_=Factory.owner_id)


# The period's decisions, read by their time: SQLite, without statistics, would read them by
# their decision instead (every approval ever made, 200,000 rows on the bench's install).
DECIDED_INDEX = "ix_stage_changes_decided_at"


def _promotions(rows, ids, in_scope, since, until) -> None:
    """Applied moves up (a stage up, or a prospect signed), credited to the rep who asked, or
    to the factory's rep when a manager moved it directly."""
    requester = aliased(User)
    credited = credited_rep(requester).label("rep_id")
    signing = (StageChange.from_status == "prospect").label("signing")
    statement = (
        select(credited, signing, func.count())
        .select_from(StageChange)
        .join(Factory, Factory.id == StageChange.factory_id)
        .outerjoin(requester, requester.id == StageChange.requested_by_id)
        .where(
            moved_up(),
            StageChange.decided_at >= since,
            StageChange.decided_at < until,
            in_scope,
        )
        .group_by(credited, signing)
        .with_hint(StageChange, f"INDEXED BY {DECIDED_INDEX}", "sqlite")
    )
    for rep_id, is_signing, count in db.session.execute(statement):
        if rep_id not in rows:
            continue
        if is_signing:
            rows[rep_id].signings += count
        else:
            rows[rep_id].promotions += count


def _flags(rows, ids, in_scope, since, until) -> None:
    """Each rep's flagged visits of the period and how their review stands, read among the
    flagged visits alone (their partial index)."""
    accepted = func.sum(case((VisitReview.state == "accepted", 1), else_=0))
    disputed = func.sum(
        case((VisitReview.state.in_(("disputed", "answered", "closed")), 1), else_=0)
    )
    statement = (
        select(Visit.rep_id, func.count(), accepted, disputed)
        .outerjoin(VisitReview, VisitReview.visit_id == Visit.id)
        .where(
            flagged.flagged_condition(),
            in_scope,
            Visit.checked_in_at >= since,
            Visit.checked_in_at < until,
        )
        .group_by(Visit.rep_id)
    )
    # Not narrowed to the reps in SQL: a list of a thousand reps made PostgreSQL read every
    # visit of theirs in the period by the reps' index; the period's flagged visits are few.
    for rep_id, count, yes, no in db.session.execute(statement):
        row = rows.get(rep_id)
        if row is None:  # a manager's or an admin's own visit
            continue
        row.flagged, row.accepted, row.disputed = count, int(yes or 0), int(no or 0)
