"""A factory owner invites a colleague: a link that expires, works once, and makes a login.

The owner or an admin may revoke an open link; deactivating the owner revokes every open link
they made (crm.services.accounts.lifecycle.deactivate), so a link never outlives its reason.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from crm.errors import Conflict, Invalid, NotAllowed, NotFound
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
    if invitation is None or not invitation.open_at(now) or not invitation.created_by.active:
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
        .where(
            Invitation.id == invitation.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(used_at=now, used_by_id=user.id)
    )
    if spent.rowcount != 1:  # another request used the same link a moment ago
        raise Conflict(_("This invitation has expired or was used already. Ask for a new link."))
    return user


def revoke(actor: User, invitation: Invitation, now: datetime) -> Invitation:
    """The factory's owner or an admin ends an open link (fetched through crm.scope)."""
    if actor.role != "admin" and not (
        actor.role == "factory"
        and actor.is_factory_owner
        and actor.factory_id == invitation.factory_id
    ):
        raise NotAllowed(_("Only the factory's owner or an admin revokes its invitation links."))
    if not invitation.open_at(now):
        message = _("This link was used, has expired or was revoked already.")
        raise Invalid(message, fields={"invitation": message})
    _revoke(actor, invitation, now)
    db.session.flush()
    return invitation


def revoke_made_by(actor: User, owner: User, now: datetime) -> int:
    """Revoke every open link the user made (their deactivation); how many."""
    made = db.session.scalars(
        select(Invitation).where(
            Invitation.created_by_id == owner.id,
            Invitation.used_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ).all()
    for invitation in made:
        _revoke(actor, invitation, now)
    db.session.flush()
    return len(made)


def _revoke(actor: User, invitation: Invitation, now: datetime) -> None:
    invitation.revoked_at, invitation.revoked_by_id = now, actor.id
    audit.record(actor, "invitation", invitation.id, "revoke", {"revoked_at": (None, now)})


def open_for(factory_id: int, now: datetime) -> list[Invitation]:
    return list(
        db.session.scalars(
            select(Invitation)
            .where(
                Invitation.factory_id == factory_id,
                Invitation.used_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .options(selectinload(Invitation.created_by))
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def open_made_by(owner: User, now: datetime) -> list[Invitation]:
    """The open links a factory owner made (the admin's page of that user lists them)."""
    if owner.role != "factory" or owner.factory_id is None:
        return []
    return [item for item in open_for(owner.factory_id, now) if item.created_by_id == owner.id]


def colleagues(factory_id: int) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.factory_id == factory_id).order_by(User.name, User.id)
        )
    )
