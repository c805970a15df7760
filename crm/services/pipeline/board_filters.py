"""The pipeline board's filters: what each one means in SQL, and the choices each offers.

The board itself (its columns, cards and order) is crm.services.pipeline.board.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Row, Select, and_, exists, select, true
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from crm import clock, scope, statements
from crm.extensions import db
from crm.models import STAGES, Belt, Factory, User, Visit, team_managers
from crm.services.factories import search as factory_search
from crm.services.factories.list_filters import (
    eligible_condition,
    overdue_condition,
    stale_condition,
)
from crm.values import id_or_none

FLAGS = ("stale", "overdue", "eligible", "offsite")
# "" (the default): the longest in its current stage first; "name": by name.
ORDERS = ("name",)
OFFSITE_DAYS = 90
# What a kept statement reckons back from now (crm.statements.time_values).
OFFSITE_SINCE = {"offsite": timedelta(days=OFFSITE_DAYS)}
CATEGORY_MAX = 100


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to; every field is kept in the page's URL query."""

    belt: str = ""  # a belt's id as text
    rep: str = ""  # a rep's id as text, "unowned", or (for a rep) "mine"
    category: str = ""
    key: str = ""  # "yes": key accounts only, "no": the others
    flag: str = ""  # one of FLAGS
    order: str = ""  # "": the longest in its current stage first; "name": by name
    q: str = ""  # part of a factory's name (or its pinyin), as the search box reads it

    @property
    def active(self) -> int:
        """How many filters narrow the board (the order aside)."""
        return sum(1 for name, value in vars(self).items() if value and name != "order")

    def query(self, **changes) -> dict[str, str]:
        """The URL query of these filters (empty ones left out), with some fields changed."""
        values = replace(self, **changes)
        return {name: value for name, value in vars(values).items() if value}


def column_condition(column: str) -> ColumnElement[bool]:
    if column in STAGES:
        return and_(Factory.status == "active", Factory.stage == column)
    if column == "prospect":
        # A prospect has no stage (a check constraint); saying so lets a belt's prospects come
        # in name order from the (belt, status, stage, name) index.
        return and_(Factory.status == column, Factory.stage.is_(None))
    if column in ("paused", "churned"):
        return Factory.status == column
    raise ValueError(f"unknown board column {column!r}")


def offsite_since(now: datetime | BindParameter) -> datetime | BindParameter:
    """Where the off-site window begins: OFFSITE_DAYS before `now` (named in a kept statement)."""
    return statements.back_from(now, "offsite", OFFSITE_SINCE["offsite"])


def offsite_condition(since: datetime | BindParameter) -> ColumnElement[bool]:
    """An off-site check-in at the factory since that instant (`offsite_since`)."""
    return exists().where(
        Visit.factory_id == Factory.id,
        Visit.off_site.is_(True),
        Visit.checked_in_at >= since,
    )


def flag_condition(flag: str, now: datetime | BindParameter, thresholds: dict):
    if flag == "stale":
        return stale_condition(thresholds)
    if flag == "overdue":
        return overdue_condition(now)
    if flag == "eligible":
        return eligible_condition()
    if flag == "offsite":
        return offsite_condition(offsite_since(now))
    return true()


def owner_condition(actor: User, rep: str) -> ColumnElement[bool]:
    if rep == "unowned":
        return Factory.owner_id.is_(None)
    if rep == "mine":
        return Factory.owner_id == actor.id
    if (rep_id := id_or_none(rep)) is not None:
        return Factory.owner_id == rep_id
    return true()


def filtered(
    actor: User,
    filters: BoardFilters,
    now: datetime | BindParameter,
    thresholds: dict,
    on: date | None = None,
) -> Select:
    """The factories of the board: in the actor's scope (on the day of `now`, or `on` when
    `now` is a kept statement's bound time), on a column, matching the filters."""
    statement = scope.factories(actor, on or clock.today(now))
    if filters.q:
        statement = statement.where(factory_search.condition(filters.q, actor))
    if (belt_id := id_or_none(filters.belt)) is not None:
        statement = statement.where(Factory.belt_id == belt_id)
    if filters.category:
        statement = statement.where(Factory.category == filters.category[:CATEGORY_MAX])
    if filters.key == "yes":
        statement = statement.where(Factory.is_key_account.is_(True))
    elif filters.key == "no":
        statement = statement.where(Factory.is_key_account.is_(False))
    if filters.flag in FLAGS:
        statement = statement.where(flag_condition(filters.flag, now, thresholds))
    return statement.where(owner_condition(actor, filters.rep))


# --- the filters' choices ------------------------------------------------------------------


def belt_choices(actor: User) -> list[Belt]:
    """The belts a person may narrow the board to: those of their scope."""
    statement = scope.belts(actor).order_by(Belt.code)
    return list(db.session.scalars(statement))


def rep_choices(actor: User) -> list[Row]:
    """The reps a manager (their teams') or an admin (all) may narrow the board to, as rows of
    their id, name and team."""
    statement = (
        select(User.id, User.name, User.team_id)
        .where(User.role == "rep", User.active.is_(True))
        .order_by(User.name)
    )
    if actor.role == "manager":
        led = select(team_managers.c.team_id).where(team_managers.c.user_id == actor.id)
        statement = statement.where(User.team_id.in_(led))
    elif actor.role != "admin":
        return []
    return list(db.session.execute(statement))


def category_choices(actor: User, now: datetime) -> list[str]:
    statement = (
        scope.factories(actor, clock.today(now))
        .with_only_columns(Factory.category)
        .where(Factory.category != "")
        .distinct()
        .order_by(Factory.category)
        .limit(200)
    )
    return list(db.session.scalars(statement))
