"""The factory list's filters, and the flags derived from the stored times, as SQL conditions.

The list (crm.services.factories.factory_list), the board, the counts a manager drills into,
the exports, the digest and the day's route all narrow factories with these conditions, so
that a filter, a count and the badge on a row say the same thing (DESIGN.md "Flags"):

- *stale*: no visit for twice the stage's cadence (a prospect's row of the cadence table; a
  factory never visited counts from entering its stage, or from its creation);
- *overdue*: a follow-up past due;
- *eligible*: `eligible_since` set.

Paused and churned factories are never stale or overdue, and nor is a prospect that no rep
owns: nobody is due to visit it until it is claimed. The instants may be given as values or,
in a statement kept for the process (crm.statements), as the names bound when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from crm import cache
from crm.extensions import db
from crm.models import PROSPECT, STAGES, STATUSES, Factory, User
from crm.services.factories import search as factory_search
from crm.values import id_or_none

FLAGS = ("stale", "overdue", "eligible")
# Whose factories: all in scope, the user's own, or those that no rep owns (claimable).
OWNERSHIPS = ("mine", "unowned")
DEFAULT_PROSPECT_CADENCE = 14
SEARCH_MAX = factory_search.SEARCH_MAX
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
    # What the manager's counts open (crm.services.pipeline.drill): a belt's id, a pipeline
    # column (prospect, a stage, paused, churned), a stuck list, a board's category and key,
    # a report's target not met.
    belt: str = ""
    column: str = ""
    stuck: str = ""
    category: str = ""
    key: str = ""
    target: str = ""  # a report's "not met": "<stage>:<the target's English title>"
    page: int = 1
    # A cursor: the page after the row of this id, or before it (in name-then-id order).
    after: int | None = None
    before: int | None = None
    # The API's sync: the factories changed at or after this instant, by update time then id;
    # `after` is then the cursor's id among those changed at exactly this instant.
    updated_since: datetime | None = None

    @property
    def active(self) -> int:
        """How many filters narrow the list (the search aside): shown on the folded form."""
        narrowing = (self.stage, self.status, self.flag, self.owner, *self.drilled)
        return sum(1 for value in narrowing if value)

    @property
    def drilled(self) -> tuple[str, ...]:
        """The filters a count opened the list with (not on the form: shown as chips)."""
        return (self.belt, self.column, self.stuck, self.category, self.key, self.target)

    def query(self, **changes) -> dict[str, str | int]:
        """The URL query of these filters (empty ones left out), with some fields changed."""
        values = replace(self, **changes)
        fields = {
            "q": values.search,
            "stage": values.stage,
            "status": values.status,
            "flag": values.flag,
            "owner": values.owner,
            "belt": values.belt,
            "column": values.column,
            "stuck": values.stuck,
            "category": values.category,
            "key": values.key,
            "target": values.target,
        }
        query: dict[str, str | int] = {name: value for name, value in fields.items() if value}
        if values.after:
            query["after"] = values.after
        elif values.before:
            query["before"] = values.before
        if values.page > 1:
            query["page"] = values.page
        return query


# --- the flags, as SQL conditions --------------------------------------------------------


def cadences() -> dict[str, int]:
    """Visit cadence in days per stage code, the prospect's included (14 if it has no row)."""
    found = {code: stage.cadence_days for code, stage in cache.stages().items()}
    found.setdefault(PROSPECT, DEFAULT_PROSPECT_CADENCE)
    return found


def stale_thresholds(now: datetime) -> dict[str, datetime]:
    """Per stage code: a factory whose last visit is older than this instant is stale."""
    return {code: now - timedelta(days=2 * days) for code, days in cadences().items()}


def stale_condition(thresholds: dict[str, datetime | BindParameter]) -> ColumnElement[bool]:
    """No visit for twice the cadence; an unvisited factory counts from its stage or creation.
    The thresholds are instants, or in a kept statement their names (crm.statements)."""
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


def overdue_condition(now: datetime | BindParameter) -> ColumnElement[bool]:
    return and_(Factory.status.in_(FOLLOWED), Factory.next_follow_up_at < now)


def eligible_condition() -> ColumnElement[bool]:
    return Factory.eligible_since.is_not(None)


# --- filters -----------------------------------------------------------------------------


def filter_conditions(
    actor: User, filters: Filters, now: datetime, thresholds: dict[str, datetime]
) -> list[ColumnElement[bool]]:
    """The filters as conditions on factories (the scope apart)."""
    conditions = [owner_condition(actor, filters.owner)]
    search = filters.search.strip()[:SEARCH_MAX]
    if search:
        conditions.append(factory_search.condition(search, actor))
    if filters.updated_since is not None:
        conditions.append(Factory.updated_at >= filters.updated_since)
    if filters.stage in STAGES:
        conditions.append(Factory.stage == filters.stage)
    if filters.status in STATUSES:
        conditions.append(Factory.status == filters.status)
    if filters.flag == "stale":
        conditions.append(stale_condition(thresholds))
    elif filters.flag == "overdue":
        conditions.append(overdue_condition(now))
    elif filters.flag == "eligible":
        conditions.append(eligible_condition())
    if filters.drilled or filters.flag == "offsite":
        from crm.services.pipeline import drill  # its conditions are the counting pages'

        conditions.extend(drill.conditions(filters, now, thresholds))
    return conditions


def conditions(actor: User, filters: Filters, now: datetime) -> list[ColumnElement[bool]]:
    """The list's filters as conditions (the scope apart): what a count shares with its list."""
    return filter_conditions(actor, filters, now, stale_thresholds(now))


def may_narrow_to_owner(actor: User, owner: str) -> bool:
    """Whether the actor may narrow a list by this owner: a rep's id is managers' and admins'.

    The list page ignores an owner it may not use; the API refuses it (403).
    """
    return owner in ("", "mine", "unowned") or actor.role in ("manager", "admin")


def owner_condition(actor: User, owner: str) -> ColumnElement[bool]:
    if owner == "mine":
        return Factory.owner_id == actor.id
    if owner == "unowned":
        return Factory.owner_id.is_(None)
    if (owner_id := id_or_none(owner)) is not None and may_narrow_to_owner(actor, owner):
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
