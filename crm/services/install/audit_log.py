"""Reading the audit log: filters, keyset pages on (at, id), a factory's history, and the rows an
export writes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import joinedload

from crm import clock
from crm.extensions import db
from crm.models import AuditEntry, Factory, User
from crm.services.accounts import auth as auth_service
from crm.values import id_or_none, is_ascii_digits

PAGE_SIZE = 50
FACTORY_PAGE_SIZE = 30  # a factory's History tab
EXPORT_BATCH = 1000


@dataclass
class AuditFilters:
    """`actor`: a user's id or login, part of a user's name, or a job's name."""

    actor: str = ""
    record_type: str = ""
    record_id: int | None = None
    action: str = ""
    since: date | None = None  # local days, both included
    until: date | None = None
    factory: str = ""  # a factory's id or part of its name: its record and the records it holds
    user_id: int | None = None  # entries made by this user or about them


Cursor = tuple[datetime, int]


def filtered(filters: AuditFilters) -> Select:
    statement = select(AuditEntry)
    actor = filters.actor.strip()
    if is_ascii_digits(actor) and len(actor) < 10:  # an id; more digits are a login's
        statement = statement.where(AuditEntry.actor_id == int(actor))
    elif actor:
        login = auth_service.normalise_login(actor)
        users = select(User.id).where(
            or_(
                func.lower(User.name).like(f"%{actor.lower()}%"),
                User.email == login,
                User.phone == login,
            )
        )
        statement = statement.where(
            or_(AuditEntry.actor_job == actor, AuditEntry.actor_id.in_(users))
        )
    factory = filters.factory.strip()
    if is_ascii_digits(factory) and len(factory) < 10:
        statement = statement.where(AuditEntry.factory_id == int(factory))
    elif factory:
        pattern = factory.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        named = select(Factory.id).where(func.lower(Factory.name).like(f"%{pattern}%", escape="\\"))
        statement = statement.where(AuditEntry.factory_id.in_(named))
    if filters.user_id is not None:
        statement = statement.where(
            or_(
                AuditEntry.actor_id == filters.user_id,
                and_(AuditEntry.record_type == "user", AuditEntry.record_id == filters.user_id),
            )
        )
    if filters.record_type:
        statement = statement.where(AuditEntry.record_type == filters.record_type)
    if filters.record_id is not None:
        statement = statement.where(AuditEntry.record_id == filters.record_id)
    if filters.action:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.since is not None:
        statement = statement.where(AuditEntry.at >= clock.day_bounds(filters.since)[0])
    if filters.until is not None:
        statement = statement.where(AuditEntry.at < clock.day_bounds(filters.until)[1])
    return statement


def newest_first(statement: Select, after: Cursor | None) -> Select:
    """Newest first, ties broken by id: entries with equal times never swap or repeat."""
    if after is not None:
        at, entry_id = after
        statement = statement.where(
            or_(AuditEntry.at < at, and_(AuditEntry.at == at, AuditEntry.id < entry_id))
        )
    return statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())


def page(
    filters: AuditFilters, after: Cursor | None = None, size: int = PAGE_SIZE
) -> tuple[list[AuditEntry], Cursor | None]:
    """One page of entries after the cursor, and the cursor of the next page (None at the end)."""
    return _page(filtered(filters), after, size)


def of_factory(
    factory: Factory, after: Cursor | None = None, size: int = FACTORY_PAGE_SIZE
) -> tuple[list[AuditEntry], Cursor | None]:
    """A factory's history: every audited change to the factory and the records it holds
    (stage changes, tasks, visits, figures, follow-ups, contacts), a page after the cursor.
    The caller has fetched the factory through its scope; entries past retention are gone
    already and erased personal fields read as erased."""
    return _page(select(AuditEntry).where(AuditEntry.factory_id == factory.id), after, size)


def _page(
    statement: Select, after: Cursor | None, size: int
) -> tuple[list[AuditEntry], Cursor | None]:
    rows = list(
        db.session.scalars(
            newest_first(statement, after).options(joinedload(AuditEntry.actor)).limit(size + 1)
        )
    )
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].at, rows[-1].id) if more and rows else None


def cursor_text(cursor: Cursor) -> str:
    return f"{cursor[0].isoformat()}_{cursor[1]}"


def parse_cursor(text: str | None) -> Cursor | None:
    """The cursor of a page link, or None for the first page (a mangled one reads as the first)."""
    at_text, _sep, id_text = (text or "").rpartition("_")
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        return None
    entry_id = id_or_none(id_text)
    if at.tzinfo is None or entry_id is None:
        return None
    return at, entry_id


def choices() -> tuple[list[str], list[str]]:
    """The kinds of record and the actions that the log holds, for the filters' lists."""
    kinds = db.session.scalars(
        select(AuditEntry.record_type).distinct().order_by(AuditEntry.record_type)
    )
    actions = db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(kinds), list(actions)


def user_choices() -> list[tuple[int, str]]:
    """Every user by name, for the filter by user."""
    rows = db.session.execute(select(User.id, User.name).order_by(User.name, User.id))
    return [(key, value) for key, value in rows]


EXPORT_HEADER = (
    "id",
    "at",
    "actor_id",
    "actor",
    "record_type",
    "record_id",
    "action",
    "field",
    "before",
    "after",
)


def export_rows(filters: AuditFilters) -> Iterator[tuple]:
    """One row per changed field (an entry without fields gives one row), newest first, read
    in keyset batches so that memory stays bounded however long the log."""
    after: Cursor | None = None
    while True:
        entries, after = page(filters, after, EXPORT_BATCH)
        for entry in entries:
            actor = entry.actor.name if entry.actor is not None else entry.actor_job
            head = (
                entry.id,
                entry.at,
                entry.actor_id,
                actor,
                entry.record_type,
                entry.record_id,
                entry.action,
            )
            if not entry.changes:
                yield (*head, "", "", "")
            for name, (before, after_value) in entry.changes.items():
                yield (*head, name, _cell(before), _cell(after_value))
        if after is None:
            return


def _cell(value) -> str | int | float | None:
    if value is None or isinstance(value, int | float | str):
        return value
    return str(value)
