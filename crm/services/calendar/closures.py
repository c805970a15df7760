"""A factory's closures (the Spring Festival break, a move), entered by its rep: due dates
skip them, and the open follow-ups that fall within a new one move past it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, select

from crm import scope, statements
from crm.clock import day_bounds, today
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Factory, FactoryClosure, FollowUp, User
from crm.models.closure import CLOSURE_REASON_MAX
from crm.services.field import followups
from crm.services.install import audit

# A closure is entered ahead, lasts at most a year, and starts within two years from today.
MAX_DAYS = 366
MAX_AHEAD_DAYS = 2 * 366


def current_and_coming(factory: Factory, on: date) -> list[FactoryClosure]:
    """The factory's closures that have not ended by the day, first to last."""
    values = {"factory_id": factory.id, "on": on}
    return list(db.session.scalars(_coming_statement(), values))


@statements.once
def _coming_statement() -> Select:
    """`current_and_coming`'s statement, built once per process (crm.statements)."""
    return (
        select(FactoryClosure)
        .where(
            FactoryClosure.factory_id == bindparam("factory_id"),
            FactoryClosure.ends_on >= bindparam("on"),
        )
        .order_by(FactoryClosure.starts_on, FactoryClosure.id)
    )


def check_dates(starts_on: date | None, ends_on: date | None, on: date) -> None:
    """The rules of a span of days (a closure, a leave): both days, in order, not wholly
    past, within two years, at most a year long; Invalid by the field otherwise."""
    errors: dict[str, str] = {}
    if starts_on is None:
        errors["starts_on"] = _("Enter the first day.")
    if ends_on is None:
        errors["ends_on"] = _("Enter the last day.")
    if not errors:
        assert starts_on is not None and ends_on is not None
        if ends_on < starts_on:
            errors["ends_on"] = _("The last day comes on or after the first day.")
        elif ends_on < on:
            errors["ends_on"] = _("The last day is past: enter days from today on.")
        elif starts_on > on + timedelta(days=MAX_AHEAD_DAYS):
            errors["starts_on"] = _("Enter a first day within two years from today.")
        elif (ends_on - starts_on).days + 1 > MAX_DAYS:
            errors["ends_on"] = _("Enter at most %(days)d days.", days=MAX_DAYS)
    if errors:
        raise Invalid(next(iter(errors.values())), fields=errors)


def add(
    actor: User,
    factory: Factory,
    starts_on: date | None,
    ends_on: date | None,
    reason: str,
    now: datetime,
) -> FactoryClosure:
    """Record days the factory is closed, and move its open follow-ups out of them."""
    scope.require(actor, "schedule_follow_up")
    check_dates(starts_on, ends_on, today(now))
    reason = " ".join((reason or "").split())
    if len(reason) > CLOSURE_REASON_MAX:
        message = _("Use at most %(max)d characters for the reason.", max=CLOSURE_REASON_MAX)
        raise Invalid(message, fields={"reason": message})
    closure = FactoryClosure(
        factory_id=factory.id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        created_by_id=actor.id,
        created_at=now,
    )
    db.session.add(closure)
    db.session.flush()
    audit.record(
        actor,
        "factory",
        factory.id,
        "closure_add",
        {"closed": (None, f"{starts_on.isoformat()}..{ends_on.isoformat()}")},  # type: ignore[union-attr]
    )
    _move_out(actor, closure, now)
    return closure


def _move_out(actor: User, closure: FactoryClosure, now: datetime) -> None:
    """The open follow-ups due within the closure move to the first working day after it."""
    first, last = day_bounds(closure.starts_on)[0], day_bounds(closure.ends_on)[1]
    caught = db.session.scalars(
        select(FollowUp).where(
            FollowUp.factory_id == closure.factory_id,
            FollowUp.status == "open",
            FollowUp.due_at >= first,
            FollowUp.due_at < last,
        )
    ).all()
    for follow_up in caught:
        followups.reschedule(actor, follow_up, max(closure.starts_on, today(now)), now)


def remove(actor: User, closure: FactoryClosure) -> None:
    scope.require(actor, "schedule_follow_up")
    audit.record(
        actor,
        "factory",
        closure.factory_id,
        "closure_remove",
        {"closed": (f"{closure.starts_on.isoformat()}..{closure.ends_on.isoformat()}", None)},
    )
    db.session.delete(closure)
    db.session.flush()


def get(factory: Factory, closure_id: int) -> FactoryClosure | None:
    """One of the factory's closures (the factory already fetched in scope)."""
    return db.session.scalar(
        select(FactoryClosure).where(
            FactoryClosure.id == closure_id, FactoryClosure.factory_id == factory.id
        )
    )
