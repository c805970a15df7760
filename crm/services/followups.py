"""Follow-ups: the rep's agenda of overdue, today's and coming ones."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm import scope
from crm.clock import day_bounds, today
from crm.extensions import db
from crm.models import Factory, FollowUp, User

AGENDA_DAYS = 7


@dataclass
class Agenda:
    overdue: list[FollowUp] = field(default_factory=list)
    today: list[FollowUp] = field(default_factory=list)
    upcoming: list[FollowUp] = field(default_factory=list)


def agenda(user: User, now: datetime, days: int = AGENDA_DAYS) -> Agenda:
    """The user's open follow-ups in scope: overdue first, then today's, then the next days."""
    day = today(now)
    _start_of_today, start_of_tomorrow = day_bounds(day)
    horizon = start_of_tomorrow + timedelta(days=days)
    rows = db.session.scalars(
        scope.follow_ups(user, day)
        .where(
            FollowUp.assignee_id == user.id,
            FollowUp.status == "open",
            FollowUp.due_at < horizon,
        )
        .options(joinedload(FollowUp.factory).joinedload(Factory.belt))
        .order_by(FollowUp.due_at)
    )
    result = Agenda()
    for follow_up in rows:
        if follow_up.due_at < now:
            result.overdue.append(follow_up)
        elif follow_up.due_at < start_of_tomorrow:
            result.today.append(follow_up)
        else:
            result.upcoming.append(follow_up)
    return result


def next_open(factory: Factory) -> FollowUp | None:
    return db.session.scalar(
        select(FollowUp)
        .where(FollowUp.factory_id == factory.id, FollowUp.status == "open")
        .order_by(FollowUp.due_at)
        .limit(1)
    )
