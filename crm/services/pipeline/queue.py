"""The manager's decision queue: pending stage-change requests, filtered, sorted and paged.

Every list is a scoped query (crm/scope.py); the filters narrow it in SQL, so a page of 25
costs the same whatever the size of the belt. The decisions themselves live in
crm/services/growth/promotions.py (one request) and overview.approve_eligible (many).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import joinedload

from crm import clock, scope
from crm.extensions import db
from crm.models import STAGES, Factory, StageChange, User

PAGE_SIZE = 25
ORDERS = ("", "name", "stage")  # "" is waiting longest first
COLUMNS = ("prospect", *STAGES, "paused", "churned")


@dataclass(frozen=True)
class QueueFilters:
    belt: str = ""  # a belt id
    rep: str = ""  # the factory's rep: a user id, or "unowned"
    stage: str = ""  # where the factory stands now: a column of the pipeline
    since: date | None = None  # asked on or before this day
    order: str = ""
    page: int = 1

    def query(self, **changes) -> dict[str, str | int]:
        """The filters as a URL query, leaving out what is not set (the URL stays short)."""
        values = replace(self, **changes)
        query: dict[str, str | int] = {
            name: value
            for name, value in (
                ("belt", values.belt),
                ("rep", values.rep),
                ("stage", values.stage),
                ("since", values.since.isoformat() if values.since else ""),
                ("order", values.order),
            )
            if value
        }
        if values.page > 1:
            query["page"] = values.page
        return query

    @property
    def narrowed(self) -> bool:
        return bool(self.belt or self.rep or self.stage or self.since)


@dataclass
class QueuePage:
    changes: list[StageChange]
    total: int
    filters: QueueFilters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _stage_rank():
    # Prospects first, then the stages in order, then paused and churned.
    return case(
        (Factory.status == "prospect", 0),
        (Factory.status == "paused", 10),
        (Factory.status == "churned", 11),
        *((Factory.stage == stage, 1 + rank) for rank, stage in enumerate(STAGES)),
        else_=9,
    )


def _statement(actor: User, filters: QueueFilters, on: date) -> Select:
    # The scope is tested on the factory the statement joins anyway, rather than through the
    # subquery of the scope's factory ids (scope.stage_changes): PostgreSQL planned that as a
    # walk of every factory's key for a manager's 100 pending requests.
    statement = (
        select(StageChange)
        .join(Factory, Factory.id == StageChange.factory_id)
        .where(StageChange.decision == "pending", scope.factory_condition(actor, on))
    )
    if filters.belt:
        statement = statement.where(Factory.belt_id == int(filters.belt))
    if filters.rep == "unowned":
        statement = statement.where(Factory.owner_id.is_(None))
    elif filters.rep:
        statement = statement.where(Factory.owner_id == int(filters.rep))
    if filters.stage in ("prospect", "paused", "churned"):
        statement = statement.where(Factory.status == filters.stage)
    elif filters.stage:
        statement = statement.where(Factory.status == "active", Factory.stage == filters.stage)
    if filters.since is not None:
        _start, end = clock.day_bounds(filters.since)
        statement = statement.where(StageChange.requested_at < end)
    return statement


def _ordered(statement: Select, order: str) -> Select:
    if order == "name":
        return statement.order_by(Factory.name, StageChange.id)
    if order == "stage":
        return statement.order_by(_stage_rank(), StageChange.requested_at, StageChange.id)
    return statement.order_by(StageChange.requested_at, StageChange.id)


def _with_relations(statement: Select) -> Select:
    return statement.options(
        joinedload(StageChange.factory).joinedload(Factory.belt),
        joinedload(StageChange.factory).joinedload(Factory.owner),
        joinedload(StageChange.requested_by),
    )


def page(actor: User, filters: QueueFilters, on: date) -> QueuePage:
    """One page of the pending requests the actor may decide, under the filters."""
    statement = _statement(actor, filters, on)
    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    filters = replace(filters, page=min(max(filters.page, 1), pages))
    changes = db.session.scalars(
        _with_relations(_ordered(statement, filters.order))
        .limit(PAGE_SIZE)
        .offset((filters.page - 1) * PAGE_SIZE)
    )
    return QueuePage(list(changes.unique()), total, filters)


def every(actor: User, filters: QueueFilters, on: date) -> list[StageChange]:
    """All the pending requests under the filters, in the queue's order (the export)."""
    statement = _with_relations(_ordered(_statement(actor, filters, on), filters.order))
    return list(db.session.scalars(statement).unique())


def chosen(actor: User, change_ids: list[int], on: date) -> list[StageChange]:
    """The pending requests among the ids that the actor may decide, oldest first."""
    if not change_ids:
        return []
    statement = _statement(actor, QueueFilters(), on).where(StageChange.id.in_(change_ids))
    return list(db.session.scalars(_with_relations(_ordered(statement, ""))).unique())
