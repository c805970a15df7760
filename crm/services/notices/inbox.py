"""The in-app inbox: a user's own notifications, the unread count, marking them read.

A notification belongs to one user; nobody else ever reads or marks it, so every query
here is filtered by its owner in SQL and a stranger's id answers NotFound.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, func, select, update

from crm.errors import NotFound
from crm.extensions import db
from crm.models import Notification, User

PAGE_SIZE = 30


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


@functools.cache
def _unread_query() -> Select:
    """The bell's count on every page, built once: a request pays for its execution only."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))
    )


def page_of(user: User, page: int = 1, *, unread_only: bool = False) -> InboxPage:
    """The user's notifications, newest first, a page at a time."""
    page = max(1, page)
    statement = _own(user)
    if unread_only:
        statement = statement.where(Notification.read_at.is_(None))
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


def mark_all_read(user: User, now: datetime) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
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
