"""The staff's factory list: search, filters, derived flags and checklist progress, by the page.

Flags are derived from the stored times when the list is read (DESIGN.md "Flags"), in SQL,
so that a filter and the badge on a row say the same thing: *stale* is no visit for twice
the stage's cadence (a prospect's row of the cadence table; a factory never visited counts
from entering its stage, or from its creation), *overdue* is a follow-up past due,
*eligible* is `eligible_since` set. Paused and churned factories are never stale or overdue,
and nor is a prospect that no rep owns: nobody is due to visit it until it is claimed.

A page costs the same number of statements whatever its number of rows: the count, the
rows (with their belt and owner), the cadences, and the checklist judged for the page's
rows in one batch (crm.services.growth.eligibility, the rule's one home).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from crm import cache, clock, scope
from crm.extensions import db
from crm.models import PROSPECT, STAGES, STATUSES, Factory, User
from crm.services.factories import credit_code
from crm.services.factories.edits import can_claim
from crm.services.growth import eligibility
from crm.values import id_or_none

PAGE_SIZE = 50
FLAGS = ("stale", "overdue", "eligible")
# Whose factories: all in scope, the user's own, or those that no rep owns (claimable).
OWNERSHIPS = ("mine", "unowned")
DEFAULT_PROSPECT_CADENCE = 14
SEARCH_MAX = 100
# Statuses whose factories are visited on a cadence and can fall behind it.
FOLLOWED = ("prospect", "active")


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; every field is kept in the page's URL query."""

    search: str = ""
    stage: str = ""
    status: str = ""
    flag: str = ""
    owner: str = ""  # "", "mine", "unowned", or a rep's id as text (managers and admins)
    page: int = 1

    @property
    def active(self) -> int:
        """How many filters narrow the list (the search aside): shown on the folded form."""
        return sum(1 for value in (self.stage, self.status, self.flag, self.owner) if value)

    def query(self, **changes) -> dict[str, str | int]:
        """The URL query of these filters (empty ones left out), with some fields changed."""
        values = replace(self, **changes)
        fields = {
            "q": values.search,
            "stage": values.stage,
            "status": values.status,
            "flag": values.flag,
            "owner": values.owner,
        }
        query: dict[str, str | int] = {name: value for name, value in fields.items() if value}
        if values.page > 1:
            query["page"] = values.page
        return query


@dataclass
class Row:
    factory: Factory
    required_done: int
    required_total: int
    stale: bool
    overdue: bool
    eligible: bool
    claimable: bool

    @property
    def percent(self) -> int:
        total = self.required_total
        return round(100 * self.required_done / total) if total else 0


@dataclass
class FactoryList:
    rows: list[Row]
    total: int  # rows that match the filters, on every page
    filters: Filters  # as applied: the page number clamped to the pages there are

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @property
    def first(self) -> int:
        """The position of the page's first row among all matches, counting from 1."""
        return (self.filters.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def has_previous(self) -> bool:
        return self.filters.page > 1

    @property
    def has_next(self) -> bool:
        return self.filters.page < self.pages


def list_factories(actor: User, filters: Filters, now: datetime) -> FactoryList:
    """One page of the factories in the actor's scope that match the filters, by name."""
    thresholds = stale_thresholds(now)
    matching = _filtered(actor, filters, now, thresholds)
    total = db.session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    filters = replace(filters, page=min(max(filters.page, 1), pages))
    rows = db.session.execute(
        matching.add_columns(
            stale_condition(thresholds).label("stale"),
            overdue_condition(now).label("overdue"),
        )
        .options(joinedload(Factory.belt), joinedload(Factory.owner))
        .order_by(Factory.name, Factory.id)
        .offset((filters.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    factories = [row[0] for row in rows]
    judged = eligibility.progress(factories, now)
    result = []
    for factory, stale, overdue in rows:
        required_done, required_total = judged[factory.id]
        result.append(
            Row(
                factory=factory,
                required_done=required_done,
                required_total=required_total,
                stale=bool(stale),
                overdue=bool(overdue),
                eligible=factory.eligible_since is not None,
                claimable=can_claim(actor, factory),
            )
        )
    return FactoryList(rows=result, total=total, filters=filters)


# --- the flags, as SQL conditions --------------------------------------------------------


def cadences() -> dict[str, int]:
    """Visit cadence in days per stage code, the prospect's included (14 if it has no row)."""
    found = {code: stage.cadence_days for code, stage in cache.stages().items()}
    found.setdefault(PROSPECT, DEFAULT_PROSPECT_CADENCE)
    return found


def stale_thresholds(now: datetime) -> dict[str, datetime]:
    """Per stage code: a factory whose last visit is older than this instant is stale."""
    return {code: now - timedelta(days=2 * days) for code, days in cadences().items()}


def stale_condition(thresholds: dict[str, datetime]) -> ColumnElement[bool]:
    """No visit for twice the cadence; an unvisited factory counts from its stage or creation."""
    since = func.coalesce(Factory.last_visit_at, Factory.stage_entered_at, Factory.created_at)
    branches = []
    if PROSPECT in thresholds:
        branches.append(
            and_(
                Factory.status == PROSPECT,
                Factory.owner_id.is_not(None),
                since < thresholds[PROSPECT],
            )
        )
    for stage in STAGES:
        if stage in thresholds:
            branches.append(
                and_(Factory.status == "active", Factory.stage == stage, since < thresholds[stage])
            )
    return or_(*branches) if branches else false()


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    return and_(Factory.status.in_(FOLLOWED), Factory.next_follow_up_at < now)


def eligible_condition() -> ColumnElement[bool]:
    return Factory.eligible_since.is_not(None)


# --- filters -----------------------------------------------------------------------------


def _filtered(
    actor: User, filters: Filters, now: datetime, thresholds: dict[str, datetime]
) -> Select:
    statement = scope.factories(actor, clock.today(now))
    search = filters.search.strip()[:SEARCH_MAX]
    if search:
        statement = statement.where(_search_condition(search))
    if filters.stage in STAGES:
        statement = statement.where(Factory.stage == filters.stage)
    if filters.status in STATUSES:
        statement = statement.where(Factory.status == filters.status)
    if filters.flag == "stale":
        statement = statement.where(stale_condition(thresholds))
    elif filters.flag == "overdue":
        statement = statement.where(overdue_condition(now))
    elif filters.flag == "eligible":
        statement = statement.where(eligible_condition())
    return statement.where(_owner_condition(actor, filters.owner))


def _search_condition(search: str) -> ColumnElement[bool]:
    """The name contains the text (any case), or the credit code is exactly the text."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition = Factory.name.ilike(f"%{escaped}%", escape="\\")
    code = credit_code.normalise(search)
    if len(code) == credit_code.LENGTH:
        condition = or_(condition, Factory.credit_code == code)
    return condition


def _owner_condition(actor: User, owner: str) -> ColumnElement[bool]:
    if owner == "mine":
        return Factory.owner_id == actor.id
    if owner == "unowned":
        return Factory.owner_id.is_(None)
    if (owner_id := id_or_none(owner)) is not None and actor.role in ("manager", "admin"):
        return Factory.owner_id == owner_id
    return true()


def owner_choices(actor: User) -> list[tuple[str, str]]:
    """The reps a manager may narrow the list to: the reps of the teams they lead."""
    if actor.role != "manager":
        return []
    team_ids = [team.id for team in actor.led_teams]
    if not team_ids:
        return []
    reps = db.session.scalars(
        select(User)
        .where(User.role == "rep", User.team_id.in_(team_ids), User.active.is_(True))
        .order_by(User.name)
    )
    return [(str(rep.id), rep.name) for rep in reps]
