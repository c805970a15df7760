"""Every 15 minutes: remind assignees of follow-ups due within the hour, and of those just overdue.

Each reminder goes out once: the follow-up records when it was sent (`due_soon_reminded_at`,
`overdue_reminded_at`; moving a follow-up clears both), and the notification's dedupe key
names the follow-up and its due time. A follow-up overdue for longer than a day when the
job first sees it (the scheduler was down, or it predates the scheduler) is marked without
a reminder: the rep's Today list shows it as overdue, and nobody gets a flood of old news.
A rep on leave gets none: their stand-in gets them, as their Today shows the work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from crm import clock
from crm.jobs.notices import Notice, send_once
from crm.models import Factory, FollowUp, Leave, User

BATCH = 200
DUE_SOON = timedelta(hours=1)
JUST_OVERDUE = timedelta(days=1)
# Statuses whose factories are followed; paused and churned ones get no reminders.
FOLLOWED = ("prospect", "active")


def run(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    yield from _remind(
        session,
        now,
        "follow_up_due_soon",
        FollowUp.due_soon_reminded_at,
        (FollowUp.due_at > now) & (FollowUp.due_at <= now + DUE_SOON),
    )
    yield from _remind(
        session,
        now,
        "follow_up_overdue",
        FollowUp.overdue_reminded_at,
        FollowUp.due_at <= now,
    )


def _remind(
    session: Session,
    now: datetime,
    kind: str,
    marker: InstrumentedAttribute,
    condition: ColumnElement[bool],
) -> Iterator[dict[str, int]]:
    while True:
        batch = session.scalars(
            select(FollowUp)
            .join(Factory, Factory.id == FollowUp.factory_id)
            .where(
                FollowUp.status == "open",
                marker.is_(None),
                Factory.status.in_(FOLLOWED),
                condition,
            )
            .options(joinedload(FollowUp.factory), joinedload(FollowUp.assignee))
            .order_by(FollowUp.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        stand_ins = stand_ins_on(session, {item.assignee_id for item in batch}, clock.today(now))
        notices = [
            _notice(kind, follow_up, stand_ins.get(follow_up.assignee_id, follow_up.assignee))
            for follow_up in batch
            if kind != "follow_up_overdue" or follow_up.due_at > now - JUST_OVERDUE
        ]
        sent = send_once(notices)
        for follow_up in batch:
            setattr(follow_up, marker.key, now)
        session.flush()
        yield {kind: sent, f"{kind}_marked": len(batch)}


def stand_ins_on(session: Session, rep_ids: set[int], day: date) -> dict[int, User]:
    """The stand-in of each of these reps who is on leave on the day: a rep on leave gets no
    reminders, their stand-in (who sees their due work on Today) gets them instead."""
    if not rep_ids:
        return {}
    rows = session.execute(
        select(Leave.rep_id, User)
        .join(User, User.id == Leave.stand_in_id)
        .where(Leave.rep_id.in_(rep_ids), Leave.starts_on <= day, Leave.ends_on >= day)
    )
    return {rep_id: stand_in for rep_id, stand_in in rows}


def _notice(kind: str, follow_up: FollowUp, recipient: User) -> Notice:
    factory = follow_up.factory
    due = clock.local(follow_up.due_at)
    key = f"{kind}:{follow_up.id}:{due:%Y%m%dT%H%M}"
    reason = follow_up.reason

    if kind == "follow_up_due_soon":

        def title() -> str:
            return _(
                "Follow-up at %(time)s: %(factory)s", time=f"{due:%H:%M}", factory=factory.name
            )

    else:

        def title() -> str:
            return _(
                "Overdue follow-up: %(factory)s (due %(when)s)",
                factory=factory.name,
                when=f"{due:%Y-%m-%d %H:%M}",
            )

    return Notice(
        user=recipient,
        kind=kind,
        key=key,
        title=title,
        factory=factory,
        body=(lambda: reason) if reason else None,
    )
