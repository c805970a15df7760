"""The factory list as a file: every factory that the list shows under its filters (not a page of
them, and none left out for lacking a credit code), with the list's columns and their ids.

The rows are read with the list's own conditions (list_filters.conditions), in the list's order
(name, then id), a batch at a time; each batch's checklist is judged in one go, as the list
judges a page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from crm import clock, scope
from crm.extensions import db
from crm.models import Belt, Factory, User
from crm.services.factories import list_filters
from crm.services.growth import eligibility

BATCH = 500

# The export's columns, by key: the view words them in the reader's language.
COLUMNS = (
    "id",
    "name",
    "credit_code",
    "belt_id",
    "belt",
    "status",
    "stage",
    "owner_id",
    "rep",
    "last_visit",
    "next_follow_up",
    "required_done",
    "required_total",
    "stale",
    "overdue",
    "eligible",
)


def rows(actor: User, filters: list_filters.Filters, now: datetime) -> Iterator[dict]:
    """Each factory of the list under these filters, as a dict by COLUMNS (the belt's record
    under "belt", the status and stage as codes, instants as they are stored)."""
    thresholds = list_filters.stale_thresholds(now)
    conditions = list_filters.conditions(actor, filters, now)
    statement = (
        scope.factories(actor, clock.today(now))
        .where(*conditions)
        .with_only_columns(
            Factory,
            Belt,
            User.name,
            list_filters.stale_condition(thresholds).label("stale"),
            list_filters.overdue_condition(now).label("overdue"),
        )
        .join_from(Factory, Belt, Belt.id == Factory.belt_id)
        .outerjoin_from(Factory, User, User.id == Factory.owner_id)
        .order_by(Factory.name, Factory.id)
    )
    last: tuple[str, int] | None = None
    while True:
        page = statement
        if last is not None:
            page = page.where(
                (Factory.name > last[0]) | ((Factory.name == last[0]) & (Factory.id > last[1]))
            )
        batch = db.session.execute(page.limit(BATCH)).all()
        if not batch:
            return
        judged = eligibility.progress([row[0] for row in batch], now)
        for factory, belt, owner_name, stale, overdue in batch:
            done, total = judged[factory.id]
            yield {
                "id": factory.id,
                "name": factory.name,
                "credit_code": factory.credit_code,
                "belt_id": belt.id,
                "belt": belt,
                "status": factory.status,
                "stage": factory.stage,
                "owner_id": factory.owner_id,
                "rep": owner_name,
                "last_visit": factory.last_visit_at,
                "next_follow_up": factory.next_follow_up_at,
                "required_done": done,
                "required_total": total,
                "stale": bool(stale),
                "overdue": bool(overdue),
                "eligible": factory.eligible_since is not None,
            }
        last = (batch[-1][0].name, batch[-1][0].id)
        if len(batch) < BATCH:
            return
