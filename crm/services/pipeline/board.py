"""The pipeline board: one column per status and stage, cards by the page, in its order.

The flags are the factory list's (crm.services.factories.list_filters: stale, overdue, eligible, in
SQL) plus *off-site*: an off-site check-in within the last OFFSITE_DAYS. A board costs the
same number of statements whatever the number of factories: one count per column group,
one page of cards per column (with belt and owner joined), the cadences, and the checklist
judged for every card on the board in one batch.

Moving a card is crm.services.pipeline.board_moves; the filters are
crm.services.pipeline.board_filters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Row, Select, case, func, select, union_all
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from crm import clock, scope, statements
from crm.errors import Invalid
from crm.extensions import db
from crm.models import STAGES, Belt, Factory, StageChange, User
from crm.services.factories.factory_page import days_in_stage
from crm.services.factories.list_filters import (
    overdue_condition,
    stale_condition,
    stale_thresholds,
)
from crm.services.growth import eligibility

# The filters live in their own module; these names are the board's too (the views use them).
from crm.services.pipeline.board_filters import (  # noqa: F401
    CATEGORY_MAX,
    FLAGS,
    OFFSITE_DAYS,
    OFFSITE_SINCE,
    ORDERS,
    BoardFilters,
    belt_choices,
    category_choices,
    column_condition,
    filtered,
    flag_condition,
    offsite_condition,
    offsite_since,
    owner_condition,
    rep_choices,
)

COLUMNS = ("prospect", *STAGES, "paused", "churned")
# Columns the board draws folded until opened: a churned factory is seldom what a manager seeks.
FOLDED = ("churned",)
# A manager reads a board for its counts and the cards that need them (DESIGN.md "Who uses
# it"): each column shows its first BOARD_CARDS, and "more" (or the column's own page, without
# script) the rest CARDS_PER_PAGE at a time, so a board of 5,000 factories draws 60 cards.
BOARD_CARDS = 10
CARDS_PER_PAGE = 30
EXPORT_CHUNK = 500


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

    @property
    def pending(self) -> str | None:
        """The column a pending request would move it to, if one waits for a decision."""
        return self.row.pending


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


def _order(statement: Select, order: str, column: str) -> Select:
    """A column's order: the longest in its stage first (the default; a prospect: the earliest
    created), or by name (which an index serves at any scale)."""
    if order != "name":
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


def card(
    actor: User, factory_id: int, now: datetime, filters: BoardFilters | None = None
) -> Card | None:
    """One factory's card as the board draws it (after a move), or None when it is out of
    scope or, moved, no longer matches the board's filters."""
    thresholds = stale_thresholds(now)
    chosen = filtered(actor, filters or BoardFilters(), now, thresholds)
    chosen = chosen.where(Factory.id == factory_id)
    statement = _card_select(chosen.with_only_columns(Factory.id), CARD_COLUMNS, now, thresholds)
    row = db.session.execute(statement).first()
    if row is None:
        return None
    cards = [_card(row, now)]
    _judge(cards, now)
    return cards[0]


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
    two statements (the cards, their checklists' progress).

    The cards are chosen by id first (a UNION ALL of each column's ordered, limited ids), so
    that the flags are worked out for the cards shown, not for every factory sorted; the
    chosen rows come back in the board's order, each column's cards in turn. The statement is
    kept per process (crm.statements) for its scope, filters and pages, the time bound at each
    run; a search's is built each time (each search is its own).
    """
    if not pages:
        return []
    on = clock.today(now)

    def build(now_: datetime | BindParameter, thresholds_: dict) -> Select:
        matching = filtered(actor, filters, now_, thresholds_, on).with_only_columns(Factory.id)
        parts = []
        for code, start, size in pages:
            column = _order(matching.where(column_condition(code)), filters.order, code)
            ids = column.offset(start).limit(size).subquery()
            parts.append(select(ids.c.id))
        chosen = parts[0] if len(parts) == 1 else union_all(*parts)
        statement = _card_select(
            select(Factory.id).where(Factory.id.in_(chosen)), CARD_COLUMNS, now_, thresholds_
        )
        return _order(statement, filters.order, "")

    if filters.q:
        found = db.session.execute(build(now, thresholds))
    else:
        key = ("board cards", scope.statement_key(actor, on), actor.id, filters, tuple(pages))
        key += tuple(thresholds)
        statement = statements.kept(
            key, lambda: build(statements.NOW, statements.bound_thresholds(thresholds))
        )
        found = db.session.execute(
            statement, statements.time_values(now, thresholds, OFFSITE_SINCE)
        )
    cards = [_card(row, now) for row in found]
    _judge(cards, now)
    return cards


_Owner = aliased(User)


def _pending() -> ColumnElement:
    """The board column that the factory's pending request (at most one) would move it to."""
    resting = StageChange.to_status.in_(("paused", "churned"))
    return (
        select(case((resting, StageChange.to_status), else_=StageChange.to_stage))
        .where(StageChange.factory_id == Factory.id, StageChange.decision == "pending")
        .limit(1)
        .scalar_subquery()
    )


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
    _pending().label("pending"),
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
    statement: Select, columns: tuple, now: datetime | BindParameter, thresholds: dict
) -> Select:
    """The factories `statement` selects, as rows of these columns with the card's flags, belt
    and owner joined."""
    return (
        statement.with_only_columns(
            *columns,
            stale_condition(thresholds).label("stale"),
            overdue_condition(now).label("overdue"),
            offsite_condition(offsite_since(now)).label("offsite"),
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
