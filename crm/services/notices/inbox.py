"""The in-app inbox: a user's own notifications, the unread count, marking them read.

A notification belongs to one user; nobody else ever reads or marks it, so every query
here is filtered by its owner in SQL and a stranger's id answers NotFound. The inbox shows
them grouped by kind (the latest few of each, with its counts: `groups`), and one kind a page
at a time (`page_of` with a kind).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, case, func, select, update

from crm import statements
from crm.errors import NotFound
from crm.extensions import db
from crm.models import Notification, User

PAGE_SIZE = 30
GROUP_SIZE = 3  # the latest items shown under each kind
# The kinds of notification, the ones that ask the reader to act first.
KINDS = (
    "stage_change_requested",
    "visit_disputed",
    "visit_answered",
    "factory_eligible",
    "evidence",
    "follow_up_overdue",
    "follow_up_due_soon",
    "factory_stale",
    "digest",
    "stage_change_approved",
    "stage_change_direct",
    "stage_change_refused",
    "factory_merged",
)


@dataclass
class KindGroup:
    kind: str
    total: int
    unread: int
    items: list[Notification]

    @property
    def more(self) -> bool:
        return self.total > len(self.items)


@dataclass
class InboxPage:
    items: list[Notification]
    page: int
    has_more: bool
    unread: int


def _own(user: User):
    return select(Notification).where(Notification.user_id == user.id)


def unread_count(user: User) -> int:
    return db.session.scalar(_unread_query(), {"user_id": user.id})


@statements.once
def _unread_query() -> Select:
    """The bell's count on every page, built once: a request pays for its execution only."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))
    )


def read_kind(raw: str | None) -> str | None:
    """A kind from the query string, or None (every kind) for anything else."""
    return raw if raw in KINDS else None


def groups(user: User, *, unread_only: bool = False, size: int = GROUP_SIZE) -> list[KindGroup]:
    """The user's notifications by kind: each kind's counts and latest few, kinds with unread
    items first, then the kind with the newest item. Two queries, however many items."""
    mine = [Notification.user_id == user.id]
    if unread_only:
        mine.append(Notification.read_at.is_(None))
    counts = {
        kind: (total, int(unread or 0))
        for kind, total, unread in db.session.execute(
            select(
                Notification.kind,
                func.count(),
                func.sum(case((Notification.read_at.is_(None), 1), else_=0)),
            )
            .where(*mine)
            .group_by(Notification.kind)
        )
    }
    ranked = (
        select(
            Notification.id,
            func.row_number()
            .over(
                partition_by=Notification.kind,
                order_by=(Notification.created_at.desc(), Notification.id.desc()),
            )
            .label("place"),
        )
        .where(*mine)
        .subquery()
    )
    latest = db.session.scalars(
        select(Notification)
        .join(ranked, ranked.c.id == Notification.id)
        .where(ranked.c.place <= size)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    ).all()
    found: dict[str, KindGroup] = {}
    for item in latest:  # newest first, so the groups come in the order of their newest
        if item.kind not in found:
            total, unread = counts.get(item.kind, (0, 0))
            found[item.kind] = KindGroup(item.kind, total, unread, [])
        found[item.kind].items.append(item)
    return sorted(found.values(), key=lambda group: group.unread == 0)


def page_of(
    user: User, page: int = 1, *, unread_only: bool = False, kind: str | None = None
) -> InboxPage:
    """The user's notifications (of one kind, or all), newest first, a page at a time."""
    page = max(1, page)
    statement = _own(user)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
    if kind is not None:
        statement = statement.where(Notification.kind == kind)
    rows = db.session.scalars(
        statement.order_by(Notification.created_at.desc(), Notification.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    return InboxPage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE, unread_count(user))


def get_own(user: User, notification_id: int) -> Notification:
    item = db.session.scalar(_own(user).where(Notification.id == notification_id))
    if item is None:
        raise NotFound(_("This notification is not in your inbox."))
    return item


def mark_read(user: User, item: Notification, now: datetime) -> Notification:
    if item.user_id != user.id:
        raise NotFound(_("This notification is not in your inbox."))
    if item.read_at is None:
        item.read_at = now
    db.session.flush()
    return item


def mark_all_read(user: User, now: datetime, kind: str | None = None) -> int:
    """Every unread notification of the user read (of one kind, when given)."""
    conditions = [Notification.user_id == user.id, Notification.read_at.is_(None)]
    if kind is not None:
        conditions.append(Notification.kind == kind)
    result = db.session.execute(
        update(Notification)
        .where(*conditions)
        .values(read_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def target_path(item: Notification, user: User) -> str:
    """Where opening it leads: its own link, else its factory's page as the reader sees it."""
    if item.link:
        return item.link
    adapter = current_app.url_map.bind("")
    if item.kind == "digest" and user.role in ("manager", "admin"):
        return adapter.build("pipeline.index")
    if item.factory_id is None:
        return adapter.build("inbox.index")
    if user.role == "factory":
        return adapter.build("portal.index")
    return adapter.build("factories.show", {"factory_id": item.factory_id})
