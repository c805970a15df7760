"""Follow-ups: scheduling, moving, completing and cancelling them; the rep's agenda.

Every change keeps the factory's denormalised `next_follow_up_at` true (refresh_next),
and is audited. A date that a person picks lands at 10:00 in the install's zone and
skips the days that are not working days for the factory (DESIGN.md "Cadence"):
weekends unless made up, public holidays, the factory's closures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload

from crm import scope, statements
from crm.clock import at_local_time, day_bounds, today
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Factory, FollowUp, User, Visit
from crm.models.followup import ORIGINS, REASON_MAX
from crm.services.calendar import working_days
from crm.services.install import audit
from crm.services.install.audit import Actor

AGENDA_DAYS = 7
# The hour a picked date lands at, in the install's zone.
DUE_HOUR = 10
# What an agenda holds: the follow-ups themselves, or only the columns that Today shows.
T = TypeVar("T", "FollowUp", "AgendaRow")
TRACKED = ("status", "due_at", "reason", "origin", "assignee_id", "completed_by_visit_id")


@dataclass
class Agenda(Generic[T]):
    """A user's open follow-ups by when they are due, each group in order of its due time."""

    overdue: list[T] = field(default_factory=list)
    today: list[T] = field(default_factory=list)
    upcoming: list[T] = field(default_factory=list)


@dataclass(frozen=True)
class AgendaRow:
    """A follow-up on Today: the columns its row shows, read as values, not as records."""

    id: int
    due_at: datetime
    reason: str
    factory_id: int
    factory_name: str
    stage: str | None
    status: str
    assignee_id: int | None = None


def agenda(user: User, now: datetime, days: int = AGENDA_DAYS) -> Agenda[FollowUp]:
    """The user's open follow-ups in scope: overdue first, then today's, then the next days."""
    statement = _agenda_statement(user, now, days).options(
        contains_eager(FollowUp.factory).joinedload(Factory.belt)
    )
    return _grouped(db.session.scalars(statement), now)


def agenda_rows(user: User, now: datetime, days: int = AGENDA_DAYS) -> Agenda[AgendaRow]:
    """The follow-ups of `agenda`, only the columns that Today shows (a page that only reads)."""
    statement = _agenda_statement(user, now, days).with_only_columns(
        FollowUp.id,
        FollowUp.due_at,
        FollowUp.reason,
        Factory.id,
        Factory.name,
        Factory.stage,
        Factory.status,
        FollowUp.assignee_id,
    )
    return _grouped((AgendaRow(*row) for row in db.session.execute(statement)), now)


def absent_reps(user: User, now: datetime) -> dict[int, str]:
    """The names of the reps whose work this rep covers today (their leave), by id: Today names
    them on their rows. No statement for a rep who stands in for no one."""
    covered = [rep_id for rep_id, _last_day in scope.stood_in_for(user, today(now))]
    if not covered:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(covered))).all())


def _agenda_statement(user: User, now: datetime, days: int) -> Select:
    _start_of_today, start_of_tomorrow = day_bounds(today(now))
    horizon = start_of_tomorrow + timedelta(days=days)
    # A stand-in's Today holds the absent reps' follow-ups due by the end of their leave.
    assigned = [FollowUp.assignee_id == user.id]
    for rep_id, last_day in scope.stood_in_for(user, today(now)):
        _start, after_leave = day_bounds(last_day)
        assigned.append(
            (FollowUp.assignee_id == rep_id) & (FollowUp.due_at < min(after_leave, horizon))
        )
    # The scope is checked on each of the person's follow-ups' factories (joined by their id),
    # not as the list of every factory in scope: a rep's scope holds the team's unowned
    # prospects too, thousands of ids read for a few dozen follow-ups.
    return (
        select(FollowUp)
        .join(Factory, FollowUp.factory_id == Factory.id)
        .where(
            scope.factory_condition(user, today(now)),
            or_(*assigned),
            FollowUp.status == "open",
            FollowUp.due_at < horizon,
        )
        .order_by(FollowUp.due_at, FollowUp.id)
    )


def _grouped(items: Iterable[T], now: datetime) -> Agenda[T]:
    _start_of_today, start_of_tomorrow = day_bounds(today(now))
    result: Agenda[T] = Agenda()
    for item in items:
        if item.due_at < now:
            result.overdue.append(item)
        elif item.due_at < start_of_tomorrow:
            result.today.append(item)
        else:
            result.upcoming.append(item)
    return result


def oldest_open(factory: Factory) -> FollowUp | None:
    """The open follow-up due first: the one a visit answers when the phone names none."""
    return db.session.scalar(_oldest_open_statement(), {"factory_id": factory.id})


def _open_of_factory() -> Select:
    """A factory's open follow-ups, the factory bound as `factory_id`: what the two kept
    statements below read, the one its oldest, the other all of them."""
    return select(FollowUp).where(
        FollowUp.factory_id == bindparam("factory_id"), FollowUp.status == "open"
    )


@statements.once
def _oldest_open_statement() -> Select:
    """`oldest_open`'s statement, built once per process (crm.statements), the factory bound."""
    return _open_of_factory().order_by(FollowUp.due_at, FollowUp.id).limit(1)


def next_open(factory: Factory) -> FollowUp | None:
    """The factory's next follow-up, as its page shows it."""
    return oldest_open(factory)


def next_and_planned(factory: Factory) -> tuple[FollowUp | None, FollowUp | None]:
    """The factory's next follow-up and its earliest planned for another person (`planned`),
    from one read of its open follow-ups (a factory has a few): its page shows both."""
    rows = db.session.scalars(_open_statement(), {"factory_id": factory.id}).all()
    ordered = sorted(rows, key=lambda row: (row.due_at, row.id))
    next_ = ordered[0] if ordered else None
    return next_, next((row for row in ordered if _planned_for_another(row)), None)


@statements.once
def _open_statement() -> Select:
    return _open_of_factory().options(joinedload(FollowUp.assignee))


def _planned_for_another(follow_up: FollowUp) -> bool:
    """Planned by someone for another person (a manager's "Plan a visit" for the rep)."""
    return follow_up.created_by_id is not None and follow_up.created_by_id != follow_up.assignee_id


def planned(factory_ids: Iterable[int]) -> dict[int, FollowUp]:
    """Each factory's earliest open follow-up that someone planned for another person (a
    manager's "Plan a visit" for the rep), by factory id; one query for a page of factories.

    The earliest is picked here, not by an ORDER BY: asked for them in due order, SQLite reads
    every open follow-up of the install through (status, due_at) to skip a sort, rather than
    the page's factories' own through (factory, status, due_at): 190 ms instead of 1 on the
    bench's 100,000 factories.
    """
    ids = list(factory_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(FollowUp)
        .where(FollowUp.factory_id.in_(ids), FollowUp.status == "open")
        .options(joinedload(FollowUp.assignee))
    )
    earliest: dict[int, FollowUp] = {}
    for row in filter(_planned_for_another, rows):
        kept = earliest.get(row.factory_id)
        if kept is None or (row.due_at, row.id) < (kept.due_at, kept.id):
            earliest[row.factory_id] = row
    return earliest


def refresh_next(factory: Factory) -> None:
    """Keep the factory's `next_follow_up_at` equal to its earliest open follow-up's due time."""
    db.session.flush()
    factory.next_follow_up_at = db.session.scalar(
        select(func.min(FollowUp.due_at)).where(
            FollowUp.factory_id == factory.id, FollowUp.status == "open"
        )
    )
    db.session.flush()


# --- due dates -------------------------------------------------------------------------------


def in_days(check_in_day: date, days: int) -> date:
    """A quick pick ("in 3 days") counted from a day: the check-in's, or today."""
    return check_in_day + timedelta(days=days)


def due_day(factory: Factory, day: date) -> date:
    """The first working day for the factory from `day` on: past weekends (unless made up),
    public holidays and the factory's closures (crm.services.calendar.working_days)."""
    return working_days.first_working_day(day, factory.id)


def due_instant(
    factory: Factory, day: date, calendar: working_days.Calendar | None = None
) -> datetime:
    """10:00 install-local on the factory's first working day from `day`; a batch passes the
    calendar it loaded for its factories (crm.jobs.daily)."""
    if calendar is not None:
        return at_local_time(calendar.first_working_day(day, factory.id), DUE_HOUR)
    return at_local_time(due_day(factory, day), DUE_HOUR)


# --- changes ------------------------------------------------------------------------------


def schedule(
    actor: Actor,
    factory: Factory,
    day: date | None,
    reason: str,
    now: datetime,
    *,
    origin: str = "manual",
    assignee: User | None = None,
) -> FollowUp:
    """A new open follow-up on a day (not before today), for the factory's rep by default."""
    _require(actor)
    if origin not in ORIGINS:
        raise ValueError(f"unknown follow-up origin {origin!r}")
    if origin != "manual" and day is not None:
        # A day that a rule worked out (a visit's quick pick counted from a check-in queued
        # for days, a cadence that is past) lands today; only a person's pick is refused.
        day = max(day, today(now))
    due_at = due_instant(factory, _day_from_today(day, now))
    reason = _reason(reason)
    assignee = assignee or factory.owner or (actor if isinstance(actor, User) else None)
    if assignee is None:
        message = _("This factory has no rep yet: assign one before planning a follow-up.")
        raise Invalid(message, fields={"due_on": message})
    follow_up = FollowUp(
        factory=factory,
        assignee_id=assignee.id,
        due_at=due_at,
        reason=reason,
        origin=origin,
        status="open",
        created_by_id=actor.id if isinstance(actor, User) else None,
        created_at=now,
    )
    db.session.add(follow_up)
    db.session.flush()
    audit.record(actor, "follow_up", follow_up.id, "schedule", audit.diff({}, _snapshot(follow_up)))
    refresh_next(factory)
    return follow_up


def reschedule(actor: Actor, follow_up: FollowUp, day: date | None, now: datetime) -> FollowUp:
    """Move an open follow-up to another day (not before today)."""
    _require(actor)
    _require_open(follow_up)
    due_at = due_instant(follow_up.factory, _day_from_today(day, now))
    before = _snapshot(follow_up)
    follow_up.due_at = due_at
    # A moved follow-up is due anew: its reminders go out again for the new time.
    follow_up.due_soon_reminded_at = None
    follow_up.overdue_reminded_at = None
    return _finish(actor, follow_up, before, "reschedule")


def complete(
    actor: Actor, follow_up: FollowUp, now: datetime, visit: Visit | None = None
) -> FollowUp:
    """Mark an open follow-up done, with the visit that answered it when there is one."""
    _require(actor)
    _require_open(follow_up)
    if visit is not None and visit.factory_id not in (None, follow_up.factory_id):
        raise Invalid(_("A visit completes only a follow-up of its own factory."))
    before = _snapshot(follow_up)
    follow_up.status = "done"
    follow_up.completed_at = now
    if visit is not None:
        follow_up.completed_by_visit = visit
    return _finish(actor, follow_up, before, "complete")


def cancel(actor: Actor, follow_up: FollowUp, now: datetime, because: str = "") -> FollowUp:
    """Drop an open follow-up that is no longer needed; `because` (a factory paused or churned,
    and the move's reason) is kept in its history."""
    _require(actor)
    _require_open(follow_up)
    before = _snapshot(follow_up)
    follow_up.status = "cancelled"
    follow_up.completed_at = now
    extra = {"cancel_reason": (None, because)} if because else None
    return _finish(actor, follow_up, before, "cancel", extra)


# --- helpers of these changes -----------------------------------------------------------------


def _snapshot(follow_up: FollowUp) -> dict:
    return {name: getattr(follow_up, name) for name in TRACKED}


def _finish(
    actor: Actor, follow_up: FollowUp, before: dict, action: str, extra: dict | None = None
) -> FollowUp:
    db.session.flush()
    changes = audit.diff(before, _snapshot(follow_up)) | (extra or {})
    audit.record(actor, "follow_up", follow_up.id, action, changes)
    refresh_next(follow_up.factory)
    return follow_up


def _require(actor: Actor) -> None:
    # A job acting as the system (its name as actor) schedules by the rules alone.
    if isinstance(actor, User):
        scope.require(actor, "schedule_follow_up")


def _require_open(follow_up: FollowUp) -> None:
    if follow_up.status == "done":
        raise Conflict(_("This follow-up is done already; nothing was changed."))
    if follow_up.status == "cancelled":
        raise Conflict(_("This follow-up was cancelled; nothing was changed."))


def _day_from_today(day: date | None, now: datetime) -> date:
    if day is None:
        message = _("Pick a date, or tap one of the quick picks.")
        raise Invalid(message, fields={"due_on": message})
    if day < today(now):
        message = _("Pick today or a later date: a follow-up cannot be due in the past.")
        raise Invalid(message, fields={"due_on": message})
    return day


def _reason(text: str | None) -> str:
    text = " ".join((text or "").split())
    if len(text) > REASON_MAX:
        message = _("Use at most %(max)d characters for the reason.", max=REASON_MAX)
        raise Invalid(message, fields={"reason": message})
    return text
