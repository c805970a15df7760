"""Exactly once for every field action a phone sends under a key of its own (DESIGN.md
"Exactly once"): the first submission under a key is kept with its fingerprint and answer; the
same submission again gets that answer, other content under the key is a conflict."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.errors import Conflict
from crm.extensions import db
from crm.models import ClientAction, User
from crm.models.client_action import LOCATION_MAX


@dataclass
class Claim:
    """A key claimed for an action: `earlier` when the action was already accepted under it."""

    record: ClientAction
    earlier: bool


def fingerprint(kind: str, path: str, fields: Iterable[tuple[str, str]]) -> str:
    """SHA-256 of what was sent: its kind, where, and each field (files by their hash)."""
    digest = hashlib.sha256(f"{kind}\n{path}\n".encode())
    for name, value in sorted(fields):
        digest.update(f"{name}={value}\n".encode())
    return digest.hexdigest()


def existing(actor: User, client_key: str) -> ClientAction | None:
    return db.session.scalar(
        select(ClientAction).where(
            ClientAction.user_id == actor.id, ClientAction.client_key == client_key
        )
    )


def claim(actor: User, kind: str, client_key: str, sent: str, now: datetime) -> Claim:
    """Claim the key for this action in the request's transaction (so the action and its key
    commit together), or find the earlier action under it; other content is a conflict."""
    earlier = existing(actor, client_key)
    if earlier is not None:
        return Claim(_same(earlier, sent), earlier=True)
    record = ClientAction(
        user_id=actor.id, client_key=client_key, kind=kind, fingerprint=sent, created_at=now
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError:
        # The same key won a race from another request of this user: answer as that one did.
        earlier = existing(actor, client_key)
        if earlier is None:
            raise
        return Claim(_same(earlier, sent), earlier=True)
    return Claim(record, earlier=False)


def keep_answer(record: ClientAction, status: int, location: str, message: str) -> None:
    """The first answer, for a repeat to get again."""
    record.status = status
    record.location = location[:LOCATION_MAX]
    record.message = message
    db.session.flush()


def _same(earlier: ClientAction, sent: str) -> ClientAction:
    if earlier.fingerprint != sent:
        message = _(
            "This action's key was already used for a different action. "
            "Drop it and make the change again."
        )
        raise Conflict(message, fields={"client_key": message})
    return earlier
