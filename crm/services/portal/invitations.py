"""A factory owner invites a colleague: a link that expires, works once, and makes a login."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update

from crm.errors import Conflict, NotAllowed, NotFound
from crm.extensions import db
from crm.models import Invitation, User
from crm.services.accounts import users
from crm.services.install import audit

VALID_FOR = timedelta(days=7)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(actor: User, now: datetime) -> tuple[Invitation, str]:
    """A new link for the owner's factory; the token is returned once and stored hashed."""
    if actor.role != "factory" or not actor.is_factory_owner or actor.factory_id is None:
        raise NotAllowed(_("Only the factory's owner invites colleagues."))
    token = secrets.token_urlsafe(24)
    invitation = Invitation(
        factory_id=actor.factory_id,
        created_by_id=actor.id,
        token_hash=_hash(token),
        created_at=now,
        expires_at=now + VALID_FOR,
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        actor, "invitation", invitation.id, "create", {"factory_id": (None, actor.factory_id)}
    )
    return invitation, token


def find(token: str, now: datetime) -> Invitation:
    """The open invitation of a link, or NotFound for an unknown, expired or used one."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _hash(token)))
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= now:
        raise NotFound(_("This invitation has expired or was used already. Ask for a new link."))
    return invitation


def accept(
    token: str, name: str, login: str, password: str, locale: str | None, now: datetime
) -> User:
    """Make the colleague's login and spend the link (a second use finds it spent)."""
    invitation = find(token, now)
    user = users.create_user(
        invitation.created_by,
        role="factory",
        name=name,
        login=login,
        password=password,
        factory_id=invitation.factory_id,
        locale=locale,
    )
    spent = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=now, used_by_id=user.id)
    )
    if spent.rowcount != 1:  # another request used the same link a moment ago
        raise Conflict(_("This invitation has expired or was used already. Ask for a new link."))
    return user


def open_for(factory_id: int, now: datetime) -> list[Invitation]:
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.factory_id == factory_id,
                Invitation.used_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at.desc())
        )
    )


def colleagues(factory_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.factory_id == factory_id).order_by(User.name, User.id)
        )
    )
