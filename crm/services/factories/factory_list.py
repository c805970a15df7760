"""The staff's factory list: search, filters, derived flags and checklist progress, by the page.

The filters and the flags (stale, overdue, eligible) are SQL conditions of their own module
(crm.services.factories.list_filters), shared with the board, the counts and the exports.

A page costs the same number of statements whatever its number of rows: the count, the
rows (with their belt and owner), the cadences, and the checklist judged for the page's
rows in one batch (crm.services.growth.eligibility, the rule's one home). The list page
reads its rows as the columns it shows (list_rows.FactoryRow), not as records; the API's list,
which answers every field of a factory, reads every column the same way (RecordRow).

A page costs the same whatever the size of the scope, too: the count stops at COUNT_CAP
(past it the list says "more than 1,000", never counting the whole scope), and the next and
previous pages are read from a cursor (the id of the row they follow or precede, its key
looked up in scope) rather than by skipping rows. A cursor that is stale or not in scope
gives the first page.

The API's sync (`updated_since`) reads the same list by update time then id instead, from the
index on (updated_at, id); its cursor carries the time as well as the id, since a row that
changes while it is paged moves (`_changed_after`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Result, Select, and_, func, or_, select, tuple_, union_all
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement, False_

from crm import clock, scope, statements
from crm.extensions import db
from crm.models import Belt, Factory, User
from crm.services.factories.list_filters import (
    Filters,
    filter_conditions,
    overdue_condition,
    stale_condition,
    stale_thresholds,
)
from crm.services.factories.list_rows import (
    RECORD_COLUMNS,
    ROW_COLUMNS,
    FactoryRow,
    RecordRow,
)
from crm.services.factories.prospects import can_claim
from crm.services.growth import eligibility

PAGE_SIZE = 50
# Counted up to here; past it the list shows "more than" this many (a bounded cost).
COUNT_CAP = 1000
# The partial index of unowned prospects (by belt, then name): see _rep_parts.
UNOWNED_INDEX = "ix_factories_unowned_prospects"


def _sqlite_table_hint(_compiler, _table, text: str) -> str:
    return text


# SQLAlchemy writes a table's hint (`with_hint(..., "sqlite")`) after its name only for the
# dialects that declare hints; SQLite's INDEXED BY goes in the same place.
SQLiteCompiler.get_from_hint_text = _sqlite_table_hint


@dataclass
class Row:
    factory: FactoryRow | RecordRow
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
    total: int | None  # rows that match the filters, or None: more than COUNT_CAP (or uncounted)
    filters: Filters  # as applied: the page number clamped, a stale cursor dropped
    more: bool = False  # rows follow this page's last one
    counted: bool = True  # False: the matches were not counted (`list_factories(count=False)`)

    @property
    def many(self) -> bool:
        """More matches than are counted: the list says "more than COUNT_CAP"."""
        return self.total is None and self.counted

    @property
    def uncounted(self) -> bool:
        """Matches past this page that were not counted: the list says "of many"."""
        return self.total is None and not self.counted

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // PAGE_SIZE))

    @property
    def first(self) -> int:
        """The position of the page's first row among all matches, counting from 1."""
        return (self.filters.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def has_previous(self) -> bool:
        return self.filters.page > 1 and bool(self.rows)

    @property
    def has_next(self) -> bool:
        return self.more

    def next_page(self) -> Filters:
        """The filters of the next page: after this page's last row."""
        last = self.rows[-1].factory.id
        return replace(self.filters, page=self.filters.page + 1, after=last, before=None)

    def previous_page(self) -> Filters:
        """The previous page: before this page's first row (the first page has no cursor)."""
        if self.filters.page <= 2:
            return replace(self.filters, page=1, after=None, before=None)
        first = self.rows[0].factory.id
        return replace(self.filters, page=self.filters.page - 1, after=None, before=first)


def list_factories(
    actor: User, filters: Filters, now: datetime, *, records: bool = False, count: bool = True
) -> FactoryList:
    """One page of the factories in the actor's scope that match the filters, by name (by
    update time with `updated_since`): each row's factory a FactoryRow, or with `records` a
    RecordRow (every field the API answers).

    Without `count`, the matches are not counted apart: a page followed by no more rows gives
    the total all the same; otherwise the list is "of many" (`FactoryList.uncounted`). For a
    search, whose count reads every key in scope as the page does, that halves the work."""
    thresholds = stale_thresholds(now)
    kept = _kept_key(actor, filters, now, thresholds, records)
    if kept is None:
        conditions = filter_conditions(actor, filters, now, thresholds)
        listing = _list(actor, filters, now, records, thresholds, conditions, count, None)
    else:
        # The same filters and scope read by a statement built once (crm.statements): its
        # conditions name the time, bound when it runs.
        bound = statements.bound_thresholds(thresholds)
        conditions = filter_conditions(actor, filters, statements.NOW, bound)
        kept = (kept, statements.time_values(now, thresholds))
        listing = _list(actor, filters, now, records, bound, conditions, count, kept)
    if not count:
        # The last page (no more rows after it) tells the total; a page past the end does not.
        ends_here = not listing.more and (listing.rows or listing.filters.page == 1)
        listing.total = listing.last if ends_here else None
        listing.counted = bool(ends_here)
    return listing


def _list(
    actor: User,
    filters: Filters,
    now: datetime,
    records: bool,
    thresholds: dict,
    conditions: list[ColumnElement[bool]],
    count: bool,
    kept: tuple[tuple, dict] | None,
) -> FactoryList:
    """The page the filters ask for. With `kept` (a key and the time's values), the count and a
    page by its number are read by statements kept under that key, `thresholds` and the
    conditions naming the time (crm.statements); a cursor's page is built as it comes."""
    total = _capped_count(actor, now, conditions, kept) if count else None
    key = _cursor_key(actor, filters, now)
    by_name = (Factory.name, Factory.id)
    instant = statements.NOW if kept else now
    on = clock.today(now)

    def page(*where: ColumnElement[bool], order=by_name, offset: int = 0) -> list:
        def build() -> Select:
            conditions_ = [*conditions, *where]
            return _page(actor, on, instant, thresholds, conditions_, order, offset, records)

        if kept is None or where:  # built each time, a cursor's page too (the time bound)
            statement = build()
        else:
            order_name = "name" if order is by_name else "updated"
            statement = statements.kept((*kept[0], "page", order_name, offset), build)
        return _rows(db.session.execute(statement, kept[1] if kept else None), records)

    rows: list = []
    if filters.updated_since is not None:
        rows = page(*_changed_after(filters), order=(Factory.updated_at, Factory.id))
        more = len(rows) > PAGE_SIZE
        return _listing(actor, rows[:PAGE_SIZE], total, replace(filters, page=1), more, now)
    if key is not None and filters.before:
        rows = page(tuple_(*by_name) < key, order=(Factory.name.desc(), Factory.id.desc()))[::-1]
        # Rows before these: a page of them, the cursor's row after; fewer: the first page.
        key = key if len(rows) > PAGE_SIZE else None
        rows, more = rows[1:], True
    if key is None:
        # No cursor (or a stale one): a page by its number, within the counted rows.
        pages = max(1, COUNT_CAP // PAGE_SIZE if total is None else -(-total // PAGE_SIZE))
        number = 1 if filters.after or filters.before else min(max(filters.page, 1), pages)
        filters = replace(filters, page=number, after=None, before=None)
        rows = page(offset=(number - 1) * PAGE_SIZE)
        more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    elif filters.after:
        rows = page(tuple_(*by_name) > key)
        more, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    return _listing(actor, rows, total, filters, more, now)


def _listing(
    actor: User, rows: list, total: int | None, filters: Filters, more: bool, now: datetime
) -> FactoryList:
    """A page's rows, each with its flags and its checklist judged (for all rows at once)."""
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
    return FactoryList(rows=result, total=total, filters=filters, more=more)


def _page(
    actor: User,
    on: date,
    now: datetime | BindParameter,
    thresholds: dict,
    conditions: list[ColumnElement[bool]],
    order: tuple,
    offset: int,
    records: bool,
) -> Select:
    """PAGE_SIZE + 1 rows of the actor's scope (on the day `on`) that meet the conditions, in
    `order` after `offset`: each factory (a FactoryRow, or the record) with its stale and
    overdue flags (`_rows` reads them).

    A rep's scope is two parts on indexes of their own (scope.rep_parts): each gives its own
    first ids in order, and only those are read and sorted, not every row of the scope.
    """
    limit = PAGE_SIZE + 1
    if actor.role == "rep":
        parts = [
            part.order_by(*order).limit(offset + limit).subquery()
            for part in _rep_parts(actor, on, conditions)
        ]
        ids = union_all(*(select(part.c.id) for part in parts))
        statement = select(Factory).where(Factory.id.in_(ids))
    else:
        statement = scope.factories(actor, on).where(*conditions)
    flags = (stale_condition(thresholds).label("stale"), overdue_condition(now).label("overdue"))
    statement = (
        statement.with_only_columns(*(RECORD_COLUMNS if records else ROW_COLUMNS), Belt, *flags)
        .join_from(Factory, Belt, Belt.id == Factory.belt_id)
        .outerjoin_from(Factory, User, User.id == Factory.owner_id)
    )
    return statement.order_by(*order).offset(offset).limit(limit)


def _rows(found: Result, records: bool) -> list[tuple[FactoryRow | RecordRow, bool, bool]]:
    kind = RecordRow if records else FactoryRow
    return [(kind(*row[:-2]), row[-2], row[-1]) for row in found]


def _rep_parts(actor: User, on: date, conditions: list[ColumnElement[bool]]) -> list[Select]:
    """The ids of the two parts of a rep's scope (scope.rep_parts) that meet the conditions.

    SQLite reads the team's unowned prospects through ix_factories_owner_status_stage_dates
    (every unowned prospect of every belt, each row then read for its belt) rather than through
    the partial index made for them, unless told: 40 times slower on the bench's 100,000
    factories.
    PostgreSQL's planner picks the partial index from its statistics.
    """
    owned, unowned = scope.rep_parts(actor, on)
    parts = [select(Factory.id).where(owned, *conditions)]
    if not isinstance(unowned, False_):  # a team without belts: no index answers "false"
        parts.append(
            select(Factory.id)
            .where(unowned, *conditions)
            .with_hint(Factory, f"INDEXED BY {UNOWNED_INDEX}", "sqlite")
        )
    return parts


def _capped_count(
    actor: User,
    now: datetime,
    conditions: list[ColumnElement[bool]],
    kept: tuple[tuple, dict] | None = None,
) -> int | None:
    """How many rows match, counting no further than COUNT_CAP (None past it); with `kept`, by
    a statement kept under its key (see `_list`).

    A rep's two parts are counted each on its own index (they are disjoint), not as a set
    that every factory is looked up in."""
    on = clock.today(now)

    def build() -> Select:
        if actor.role == "rep":
            parts = _rep_parts(actor, on, conditions)
        else:
            parts = [scope.factories(actor, on).where(*conditions)]
        capped = [
            part.with_only_columns(Factory.id).order_by(None).limit(COUNT_CAP + 1).subquery()
            for part in parts
        ]
        counted = union_all(*(select(part.c.id) for part in capped)).subquery()
        return select(func.count()).select_from(counted)

    if kept is None:
        total = db.session.scalar(build()) or 0
    else:
        total = db.session.scalar(statements.kept((*kept[0], "count"), build), kept[1]) or 0
    return None if total > COUNT_CAP else total


def _kept_key(
    actor: User, filters: Filters, now: datetime, thresholds: dict[str, datetime], records: bool
) -> tuple | None:
    """What the list's statements are made of, when they may be kept (crm.statements): the
    scope, the user, the filters and the stage codes whose thresholds it binds. A search, the
    API's sync and the lists a count opens are built each time: a search is its own, and the
    sync's and the counts' conditions write their values in."""
    if filters.search.strip() or filters.updated_since is not None:
        return None
    if any(filters.drilled) or filters.flag == "offsite":
        return None
    plain = replace(filters, page=1, after=None, before=None)
    on = clock.today(now)
    scope_key = scope.statement_key(actor, on)
    return ("factory list", scope_key, actor.id, actor.role, plain, records, *thresholds)


def _changed_after(filters: Filters) -> list[ColumnElement[bool]]:
    """The sync's cursor: past (updated_since, after) in update-time-then-id order.

    The cursor carries the time as well as the id: a factory that changes while its sync is
    paged moves to the end (it comes again, with its change), and the rows after it are
    found all the same, as they would not be after its id's new time.
    """
    since = filters.updated_since
    if not filters.after:
        return []
    return [
        or_(
            Factory.updated_at > since,
            and_(Factory.updated_at == since, Factory.id > filters.after),
        )
    ]


def _cursor_key(actor: User, filters: Filters, now: datetime) -> tuple[str, int] | None:
    """The (name, id) of the row a cursor names, when that factory is in the actor's scope."""
    cursor = filters.after or filters.before
    if not cursor or filters.updated_since is not None:
        return None
    name = db.session.scalar(
        select(Factory.name).where(
            Factory.id == cursor, scope.factory_condition(actor, clock.today(now))
        )
    )
    return None if name is None else (name, cursor)
