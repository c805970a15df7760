"""Notifications that a job sends once: each carries a dedupe key, and a key is used once.

The in-app notification is written in the same transaction as the work that it reports
(the marker on the follow-up, the factory's eligible_since), so it exists exactly once;
its e-mail is queued as a delivery row in that transaction too (crm.services.notices.mail).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.extensions import db
from crm.models import Factory, Notification, User
from crm.services.notices import mail, notifications


@dataclass
class Notice:
    user: User
    kind: str
    key: str  # unique for ever: the same key is never notified twice
    title: Callable[[], str]
    factory: Factory | None = None
    body: Callable[[], str] | None = None
    link: str = ""  # where opening it leads, when not its factory's page


# Managers read per batch by the jobs that write to each of them (the digest, the summary).
MANAGER_BATCH = 20


def active_managers(session: Session) -> Iterator[list[User]]:
    """The active managers, a batch at a time in id order: a job yields its counts after each."""
    last_id = 0
    while True:
        managers = session.scalars(
            select(User)
            .where(User.id > last_id, User.role == "manager", User.active.is_(True))
            .order_by(User.id)
            .limit(MANAGER_BATCH)
        ).all()
        if not managers:
            return
        last_id = managers[-1].id
        yield list(managers)


def send_once(notices: Iterable[Notice]) -> int:
    """Write each notice whose key is new; queue its e-mail; return how many were written."""
    pending = {notice.key: notice for notice in notices}
    if not pending:
        return 0
    taken = set(
        db.session.scalars(
            select(Notification.dedupe_key).where(Notification.dedupe_key.in_(list(pending)))
        )
    )
    made: list[Notification] = []
    users: dict[int, User] = {}
    for key, notice in pending.items():
        if key in taken:
            continue
        for item in notifications.notify(
            [notice.user],
            notice.kind,
            notice.title,
            notice.factory,
            link=notice.link,
            body=notice.body,
        ):
            item.dedupe_key = key
            made.append(item)
            users[notice.user.id] = notice.user
    db.session.flush()
    mail.queue(made, users)
    return len(made)
