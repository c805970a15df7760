"""A rep's leave, entered by their manager: a stand-in of the same team sees the rep's
factories and due work for those days (crm.scope), and the rep gets no reminders."""

from __future__ import annotations

from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm import scope
from crm.clock import today
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Leave, User
from crm.services.calendar.closures import check_dates
from crm.services.install import audit
from crm.services.pipeline.team_report import reps_of


def led_reps(actor: User) -> list[User]:
    """The active reps whose leave the actor enters: a manager's teams', or all for an admin."""
    return [rep for rep in reps_of(actor) if rep.active]


def coming(actor: User, on: date) -> list[Leave]:
    """The leaves of the actor's reps that have not ended by the day, soonest first."""
    rep_ids = [rep.id for rep in led_reps(actor)]
    if not rep_ids:
        return []
    return list(
        db.session.scalars(
            select(Leave)
            .where(Leave.rep_id.in_(rep_ids), Leave.ends_on >= on)
            .options(joinedload(Leave.rep), joinedload(Leave.stand_in))
            .order_by(Leave.starts_on, Leave.id)
        )
    )


def add(
    actor: User,
    rep_id: int | None,
    stand_in_id: int | None,
    starts_on: date | None,
    ends_on: date | None,
    now: datetime,
) -> Leave:
    """A leave of one of the actor's reps, with a stand-in of the rep's own team."""
    scope.require(actor, "reassign")
    reps = {rep.id: rep for rep in led_reps(actor)}
    rep = reps.get(rep_id) if rep_id is not None else None
    if rep is None:
        message = _("Choose one of your reps.")
        raise Invalid(message, fields={"rep": message})
    stand_in = db.session.get(User, stand_in_id) if stand_in_id is not None else None
    if stand_in is None or stand_in.id == rep.id:
        message = _("Choose another rep of the same team to stand in.")
        raise Invalid(message, fields={"stand_in": message})
    if stand_in.role != "rep" or not stand_in.active or stand_in.team_id != rep.team_id:
        message = _("The stand-in must be an active rep of %(name)s's team.", name=rep.name)
        raise Invalid(message, fields={"stand_in": message})
    check_dates(starts_on, ends_on, today(now))
    overlapping = db.session.scalar(
        select(Leave.id).where(
            Leave.rep_id == rep.id, Leave.starts_on <= ends_on, Leave.ends_on >= starts_on
        )
    )
    if overlapping is not None:
        message = _("%(name)s is on leave on some of these days already.", name=rep.name)
        raise Invalid(message, fields={"starts_on": message})
    leave = Leave(rep_id=rep.id, stand_in_id=stand_in.id, starts_on=starts_on, ends_on=ends_on)
    db.session.add(leave)
    db.session.flush()
    audit.record(
        actor,
        "leave",
        leave.id,
        "add",
        audit.diff(
            {},
            {
                "rep_id": rep.id,
                "stand_in_id": stand_in.id,
                "starts_on": starts_on.isoformat(),  # type: ignore[union-attr]
                "ends_on": ends_on.isoformat(),  # type: ignore[union-attr]
            },
        ),
    )
    return leave


def get(actor: User, leave_id: int) -> Leave | None:
    """A leave of one of the actor's reps (None otherwise: the view answers 404)."""
    leave = db.session.get(Leave, leave_id)
    if leave is None or leave.rep_id not in {rep.id for rep in reps_of(actor)}:
        return None
    return leave


def remove(actor: User, leave: Leave) -> None:
    scope.require(actor, "reassign")
    audit.record(
        actor,
        "leave",
        leave.id,
        "remove",
        {
            "starts_on": (leave.starts_on.isoformat(), None),
            "ends_on": (leave.ends_on.isoformat(), None),
        },
    )
    db.session.delete(leave)
    db.session.flush()
