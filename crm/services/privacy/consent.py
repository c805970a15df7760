"""Separate consent to precise location at check-in (PIPL Arts. 28-30: a movement track is
sensitive personal information).

- Before a staff member's first check-in, the visit page shows the location notice and asks.
  The phone keeps the answer; a consent travels with each outbox item until the server has it
  (`carry`), so that it works with no signal. The account page gives or withdraws it online.
- The server keeps a check-in's position only from a user who consents to the notice's current
  version when the visit arrives (`consents`); otherwise the visit is checked in without one and
  marked so (`Visit.position_withheld`): not off-site, nothing else refused.
- A new version of the notice (`NOTICE_VERSION`) asks everyone again: a consent to an earlier
  version no longer counts, and one carried from a phone that showed an earlier notice is not
  taken.
- A consent given on a phone before a withdrawal (the phone's clock) is not taken either: the
  withdrawal is the later word.
- Every change is in the audit log (the user's record), with the notice's version and the time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from crm.extensions import db
from crm.models import User
from crm.services.install import audit

# The location notice's version: raise it when what the notice says about location changes.
NOTICE_VERSION = 1
# Who is asked: the staff, who check in; a factory user never shares a position.
ASKED_ROLES = frozenset({"rep", "manager", "admin"})


def _holds(version: int | None, given_at: datetime | None, withdrawn_at: datetime | None) -> bool:
    """A consent to the current notice that no later withdrawal took back."""
    return (
        version == NOTICE_VERSION
        and given_at is not None
        and (withdrawn_at is None or withdrawn_at < given_at)
    )


def consents(user: User) -> bool:
    """Whether the user consents, now, to precise location under the current notice."""
    return user.role in ASKED_ROLES and _holds(
        user.location_consent_version, user.location_consent_at, user.location_withdrawn_at
    )


@dataclass(frozen=True)
class State:
    """What a page says about the user's consent (and the phone's script reads)."""

    notice: int
    given_at: datetime | None  # when the current consent was given, if the user consents
    withdrawn_at: datetime | None  # the last withdrawal, if any
    asked: bool  # whether this user is asked at all


def state(user: User) -> State:
    return State(
        notice=NOTICE_VERSION,
        given_at=user.location_consent_at if consents(user) else None,
        withdrawn_at=user.location_withdrawn_at,
        asked=user.role in ASKED_ROLES,
    )


def give(actor: User, version: int, at: datetime, now: datetime) -> bool:
    """Record the actor's consent to the notice's `version`, given at `at` (the phone's time when
    it travelled with an outbox item; never later than `now`). Returns whether it was taken: a
    consent to an earlier notice, one given before the last withdrawal, or a repeat is not."""
    if actor.role not in ASKED_ROLES or version != NOTICE_VERSION or consents(actor):
        return False
    given = min(at, now)
    if actor.location_withdrawn_at is not None and given <= actor.location_withdrawn_at:
        return False
    before = (actor.location_consent_version, actor.location_consent_at)
    actor.location_consent_version = version
    actor.location_consent_at = given
    db.session.flush()
    audit.record(
        actor,
        "user",
        actor.id,
        "give_location_consent",
        {
            "location_consent_version": (before[0], version),
            "location_consent_at": (before[1], given),
        },
    )
    return True


def withdraw(actor: User, now: datetime) -> bool:
    """Withdraw the actor's consent: from now on their check-ins carry no position. Returns
    whether there was a consent to withdraw."""
    if not consents(actor):
        return False
    actor.location_withdrawn_at = now
    db.session.flush()
    audit.record(
        actor,
        "user",
        actor.id,
        "withdraw_location_consent",
        {"location_withdrawn_at": (None, now)},
    )
    return True


def carry(actor: User, version: int | None, at: datetime | None, now: datetime) -> None:
    """The consent an outbox item carries (a visit's fields), taken before the item is applied."""
    if version is not None and at is not None:
        give(actor, version, at, now)


def tally() -> dict[str, int]:
    """How many staff consent to the current notice, and how many do not (the record of
    processing)."""
    rows = db.session.execute(
        select(
            User.location_consent_version,
            User.location_consent_at,
            User.location_withdrawn_at,
        ).where(User.role.in_(ASKED_ROLES), User.active.is_(True))
    ).all()
    given = sum(1 for row in rows if _holds(*row))
    return {"given": given, "not_given": len(rows) - given}
