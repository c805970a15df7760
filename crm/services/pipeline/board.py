"""The pipeline board: one column per status and stage, cards by the page, and its filters.

The flags are the factory list's (crm.services.factories.factory_list: stale, overdue, eligible, in
SQL) plus *off-site*: an off-site check-in within the last OFFSITE_DAYS. A board costs the
same number of statements whatever the number of factories: one count per column group,
one page of cards per column (with belt and owner joined), the cadences, and the checklist
judged for every card on the board in one batch.

Moving a card is crm.services.pipeline.board_moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Row, Select, and_, exists, func, select, true, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from crm import clock, scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import STAGES, Belt, Factory, User, Visit, team_managers
from crm.services.factories.factory_list import (
    eligible_condition,
    overdue_condition,
    stale_condition,
    stale_thresholds,
)
from crm.services.factories.factory_page import days_in_stage
from crm.services.growth import eligibility
from crm.values import id_or_none

COLUMNS = ("prospect", *STAGES, "paused")
# A manager reads a board for its counts and the cards that need them (DESIGN.md "Who uses
# it"): each column shows its first BOARD_CARDS, and "more" (or the column's own page, without
# script) the rest CARDS_PER_PAGE at a time, so a board of 5,000 factories draws 60 cards.
BOARD_CARDS = 10
CARDS_PER_PAGE = 30
FLAGS = ("stale", "overdue", "eligible", "offsite")
ORDERS = ("waiting",)
OFFSITE_DAYS = 90
CATEGORY_MAX = 100
EXPORT_CHUNK = 500


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to; every field is kept in the page's URL query."""

    belt: str = ""  # a belt's id as text
    rep: str = ""  # a rep's id as text, "unowned", or (for a rep) "mine"
    category: str = ""
    key: str = ""  # "yes": key accounts only, "no": the others
    flag: str = ""  # one of FLAGS
    order: str = ""  # "": by name; "waiting": the longest in stage first

    @property
    def active(self) -> int:
        """How many filters narrow the board (the order aside)."""
        return sum(1 for name, value in vars(self).items() if value and name != "order")

    def query(self, **changes) -> dict[str, str]:
        """The URL query of these filters (empty ones left out), with some fields changed."""
        values = replace(self, **changes)
        return {name: value for name, value in vars(values).items() if value}


@dataclass
class Card:
    """A factory on the board, read as a row of the columns a card (or the export) shows."""

    row: Row
    stale: bool
    overdue: bool
    offsite: bool
    required_done: int = 0
    required_total: int = 0
    days: int | None = None  # in its stage (or as a prospect), paused days left out

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def stage(self) -> str | None:
        return self.row.stage

    @property
    def owner_name(self) -> str | None:
        return self.row.owner_name

    @property
    def is_key_account(self) -> bool:
        return self.row.is_key_account

    def belt_name(self, locale: str) -> str:
        return self.row.belt_zh if locale.startswith("zh") else self.row.belt_en

    @property
    def eligible(self) -> bool:
        return self.row.eligible_since is not None

    @property
    def percent(self) -> int:
        total = self.required_total
        return round(100 * self.required_done / total) if total else 0

    @property
    def column(self) -> str:
        return column_of(self.row)


@dataclass
class Column:
    """Some of a column's cards: those from `start` on (the board shows each column's first
    BOARD_CARDS, "more" the next CARDS_PER_PAGE, a column's own page CARDS_PER_PAGE)."""

    code: str
    count: int
    cards: list[Card] = field(default_factory=list)
    start: int = 0  # how many of the column's cards come before these

    @property
    def shown(self) -> int:
        """How many of the column's cards the board shows up to and including these."""
        return self.start + len(self.cards)

    @property
    def has_more(self) -> bool:
        return self.shown < self.count

    @property
    def page(self) -> int:
        """The column's own page (of CARDS_PER_PAGE) that these cards begin."""
        return self.start // CARDS_PER_PAGE + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // CARDS_PER_PAGE))

    @property
    def next_page(self) -> int:
        """The column's own page that holds the first card after these."""
        return self.shown // CARDS_PER_PAGE + 1


@dataclass
class Board:
    columns: list[Column]
    filters: BoardFilters

    @property
    def total(self) -> int:
        return sum(column.count for column in self.columns)


# --- columns and filters, as SQL -----------------------------------------------------------


def column_of(factory) -> str:
    """The column a factory sits in; paused and churned factories keep a stage but sit apart."""
    return factory.stage if factory.status == "active" else factory.status


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


def offsite_condition(now: datetime) -> ColumnElement[bool]:
    """An off-site check-in at the factory within the last OFFSITE_DAYS."""
    return exists().where(
        Visit.factory_id == Factory.id,
        Visit.off_site.is_(True),
        Visit.checked_in_at >= now - timedelta(days=OFFSITE_DAYS),
    )


def flag_condition(flag: str, now: datetime, thresholds: dict[str, datetime]):
    if flag == "stale":
        return stale_condition(thresholds)
    if flag == "overdue":
        return overdue_condition(now)
    if flag == "eligible":
        return eligible_condition()
    if flag == "offsite":
        return offsite_condition(now)
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
    actor: User, filters: BoardFilters, now: datetime, thresholds: dict[str, datetime]
) -> Select:
    """The factories of the board: in the actor's scope, on a column, matching the filters."""
    statement = scope.factories(actor, clock.today(now)).where(Factory.status != "churned")
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


def _order(statement: Select, order: str, column: str) -> Select:
    """A column's order: by name (the default, which an index serves at any scale), or the
    longest in its stage first (a prospect: the earliest created)."""
    if order == "waiting":
        return statement.order_by(
            func.coalesce(Factory.stage_entered_at, Factory.created_at), Factory.id
        )
    if column == "paused":
        # A belt's paused factories span its stages, so no index gives them in name order, and
        # PostgreSQL would walk the whole table's name index for the first few of them (120 ms
        # for the bench's 5,000-factory belt): ordered by an expression, they are picked by
        # belt and status first and the few sorted.
        return statement.order_by(Factory.name.concat(""), Factory.id)
    return statement.order_by(Factory.name, Factory.id)


# --- reading the board ---------------------------------------------------------------------


def counts(actor: User, filters: BoardFilters, now: datetime, thresholds=None) -> dict[str, int]:
    """How many factories each column holds under the filters, in one statement."""
    thresholds = thresholds or stale_thresholds(now)
    rows = db.session.execute(
        filtered(actor, filters, now, thresholds)
        .with_only_columns(Factory.status, Factory.stage, func.count())
        .group_by(Factory.status, Factory.stage)
    ).all()
    result = dict.fromkeys(COLUMNS, 0)
    for status, stage, count in rows:
        column = stage if status == "active" else status
        if column in result:
            result[column] += count
    return result


def build(actor: User, filters: BoardFilters, now: datetime) -> Board:
    """Every column's count and its first BOARD_CARDS cards."""
    thresholds = stale_thresholds(now)
    totals = counts(actor, filters, now, thresholds)
    pages = [(code, 0, BOARD_CARDS) for code in COLUMNS if totals[code]]
    by_column: dict[str, list[Card]] = {code: [] for code in COLUMNS}
    for card in _cards(actor, filters, pages, now, thresholds):
        by_column[card.column].append(card)
    return Board([Column(code, totals[code], by_column[code]) for code in COLUMNS], filters)


def column_cards(
    actor: User, filters: BoardFilters, code: str, start: int, now: datetime
) -> Column:
    """CARDS_PER_PAGE of one column's cards from `start` on (the board's "more", and a page of
    the column: `start` past the end gives its last page)."""
    if code not in COLUMNS:
        raise Invalid(_("Choose one of the board's columns."), fields={"column": code})
    thresholds = stale_thresholds(now)
    matching = filtered(actor, filters, now, thresholds).where(column_condition(code))
    count = db.session.scalar(matching.with_only_columns(func.count())) or 0
    last = max(count - 1, 0)
    if start > last:
        start = last - last % CARDS_PER_PAGE
    pages = [(code, start, CARDS_PER_PAGE)]
    cards = _cards(actor, filters, pages, now, thresholds) if count else []
    return Column(code, count, cards, start)


def _cards(
    actor: User,
    filters: BoardFilters,
    pages: list[tuple[str, int, int]],
    now: datetime,
    thresholds: dict[str, datetime],
) -> list[Card]:
    """Some columns' cards ((column, start, how many) each), in the board's order, judged:
    three statements (the cards, their tasks, their figures).

    The cards are chosen by id first (a UNION ALL of each column's ordered, limited ids), so
    that the flags are worked out for the cards shown, not for every factory sorted; the
    chosen rows come back in the board's order, each column's cards in turn.
    """
    if not pages:
        return []
    matching = filtered(actor, filters, now, thresholds).with_only_columns(Factory.id)
    parts = []
    for code, start, size in pages:
        column = _order(matching.where(column_condition(code)), filters.order, code)
        ids = column.offset(start).limit(size).subquery()
        parts.append(select(ids.c.id))
    chosen = parts[0] if len(parts) == 1 else union_all(*parts)
    statement = _card_select(
        select(Factory.id).where(Factory.id.in_(chosen)), CARD_COLUMNS, now, thresholds
    )
    cards = [_card(row, now) for row in db.session.execute(_order(statement, filters.order, ""))]
    _judge(cards, now)
    return cards


_Owner = aliased(User)
# What a card shows, as plain columns: a page of rows costs a fraction of Factory objects with
# their belt and owner loaded.
CARD_COLUMNS = (
    Factory.id,
    Factory.name,
    Factory.status,
    Factory.stage,
    Factory.is_key_account,
    Factory.eligible_since,
    Factory.stage_entered_at,
    Factory.paused_days,
    Factory.paused_at,
    Factory.created_at,
    Belt.name_en.label("belt_en"),
    Belt.name_zh.label("belt_zh"),
    _Owner.name.label("owner_name"),
)
# What the export adds.
EXPORT_COLUMNS = (
    *CARD_COLUMNS,
    Factory.credit_code,
    Factory.category,
    Factory.last_visit_at,
    Factory.next_follow_up_at,
    Factory.belt_id,
    Factory.owner_id,
)


def _card_select(
    statement: Select, columns: tuple, now: datetime, thresholds: dict[str, datetime]
) -> Select:
    """The factories `statement` selects, as rows of these columns with the card's flags, belt
    and owner joined."""
    return (
        statement.with_only_columns(
            *columns,
            stale_condition(thresholds).label("stale"),
            overdue_condition(now).label("overdue"),
            offsite_condition(now).label("offsite"),
        )
        .select_from(Factory)
        .join(Belt, Belt.id == Factory.belt_id)
        .outerjoin(_Owner, _Owner.id == Factory.owner_id)
    )


def _card_rows(
    actor: User, filters: BoardFilters, code: str, now: datetime, thresholds: dict[str, datetime]
) -> Select:
    """A column's factories in the board's order, as the export's rows."""
    matching = filtered(actor, filters, now, thresholds).where(column_condition(code))
    return _order(_card_select(matching, EXPORT_COLUMNS, now, thresholds), filters.order, code)


def _card(row: Row, now: datetime) -> Card:
    return Card(row, bool(row.stale), bool(row.overdue), bool(row.offsite), days=_days(row, now))


def export_cards(actor: User, filters: BoardFilters, now: datetime) -> Iterator[Card]:
    """Every card the filters select, column by column in the board's order, streamed.

    Rows come EXPORT_CHUNK at a time and each chunk's checklist is judged in one batch, so
    memory stays bounded and the statements grow with the chunks, not with the rows.
    """
    thresholds = stale_thresholds(now)
    for code in COLUMNS:
        statement = _card_rows(actor, filters, code, now, thresholds)
        result = db.session.execute(statement.execution_options(yield_per=EXPORT_CHUNK))
        for chunk in result.partitions():
            cards = [_card(row, now) for row in chunk]
            _judge(cards, now)
            yield from cards


def _days(factory: Row, now: datetime) -> int | None:
    if factory.status == "prospect":
        return max((now - factory.created_at).days, 0) if factory.created_at else None
    return days_in_stage(factory, now)


def _judge(cards: list[Card], now: datetime) -> None:
    """Checklist progress of every card, in one batch (the eligibility module's rule)."""
    judged = eligibility.progress([card.row for card in cards], now)
    for card in cards:
        card.required_done, card.required_total = judged[card.id]


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
