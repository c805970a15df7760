"""In-app notifications, written in the recipient's language in the same transaction as the work."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask_babel import force_locale
from sqlalchemy import select

from crm.extensions import db
from crm.models import Belt, Factory, Notification, User, team_managers


def notify(
    users: Iterable[User],
    kind: str,
    title: Callable[[], str],
    factory: Factory | None = None,
    link: str = "",
    body: Callable[[], str] | None = None,
) -> list[Notification]:
    """One inbox item per user; `title` and `body` are called in each user's own language."""
    made = []
    for user in {user.id: user for user in users if user is not None and user.active}.values():
        with force_locale(user.locale or "en"):
            item = Notification(
                user_id=user.id,
                kind=kind,
                title=str(title())[:200],
                body=str(body()) if body else "",
                link=link,
                factory_id=factory.id if factory else None,
            )
        db.session.add(item)
        made.append(item)
    return made


def managers_of(factory: Factory) -> list[User]:
    """The managers of the team that holds the factory's belt."""
    return list(
        db.session.scalars(
            select(User)
            .join(team_managers, team_managers.c.user_id == User.id)
            .join(Belt, Belt.team_id == team_managers.c.team_id)
            .where(Belt.id == factory.belt_id, User.active.is_(True))
        )
    )


def factory_users(factory: Factory) -> list[User]:
    return list(
        db.session.scalars(select(User).where(User.factory_id == factory.id, User.active.is_(True)))
    )
