"""Reassigning factories to another rep, and the bulk edits that go with it (DESIGN.md "Scope",
"Who may do what": reassign factories, bulk edit is a manager's or an admin's).

One service for the manager's pages and the admin's handover of a leaving rep: the factories,
their open follow-ups and their open tasks move together in the caller's transaction (the
service flushes, the request commits), every move is audited, and the new owner is told in
the inbox once per reassignment, not once per factory. A reassigned factory leaves the
former owner's scope at once, since scope follows `owner_id`.

An owner must be an active rep of the team that holds the factory's belt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from crm import clock, scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Factory, FollowUp, Task, User
from crm.services.install import audit
from crm.services.notices import notifications
from crm.values import id_or_none

OPEN_TASK_STATUSES = ("open", "submitted")
# How many factories one bulk action may touch: a page's worth, kept in one short transaction.
BULK_MAX = 5000


@dataclass
class Reassignment:
    """What moved: the factories, follow-ups and tasks now the new rep's."""

    to_rep: User | None
    factories: list[Factory] = field(default_factory=list)
    follow_ups: int = 0
    tasks: int = 0

    @property
    def count(self) -> int:
        return len(self.factories)


def may_own(rep: User | None, factory: Factory) -> bool:
    """An active rep of the team that holds the factory's belt."""
    return (
        rep is not None
        and rep.role == "rep"
        and rep.active
        and rep.team_id is not None
        and rep.team_id == factory.belt.team_id
    )


def rep_in_scope(actor: User, rep_id: int | str | None) -> User:
    """A rep the actor may hand work to or take it from: their teams' (a manager), any (admin)."""
    rep = db.session.get(User, number) if (number := id_or_none(rep_id)) else None
    led = {team.id for team in actor.led_teams} if actor.role == "manager" else None
    if rep is None or rep.role != "rep" or (led is not None and rep.team_id not in led):
        message = _("Choose a rep of your teams.")
        raise Invalid(message, fields={"to_rep": message})
    return rep


def factories_in_scope(actor: User, factory_ids: Sequence[int], now: datetime) -> list[Factory]:
    """The named factories that are in the actor's scope (others are ignored as absent)."""
    ids = list(dict.fromkeys(factory_ids))[:BULK_MAX]
    if not ids:
        return []
    return list(
        db.session.scalars(
            scope.factories(actor, clock.today(now))
            .where(Factory.id.in_(ids))
            .options(joinedload(Factory.belt), joinedload(Factory.owner))
            .order_by(Factory.name, Factory.id)
        )
    )


def reassign(
    actor: User, factories: Sequence[Factory], to_rep: User, now: datetime
) -> Reassignment:
    """Give the factories to `to_rep`, with the open follow-ups and open tasks their former
    owners held on them; audited per record, the new owner notified once."""
    scope.require(actor, "reassign")
    refused = [factory for factory in factories if not may_own(to_rep, factory)]
    if refused:
        message = _(
            "%(rep)s is not an active rep of the team that holds %(name)s's belt.",
            rep=to_rep.name,
            name=refused[0].name,
        )
        raise Invalid(message, fields={"to_rep": message})
    moving = [factory for factory in factories if factory.owner_id != to_rep.id]
    result = Reassignment(to_rep)
    if not moving:
        return result
    former = {factory.id: factory.owner_id for factory in moving}
    for factory in moving:
        factory.owner_id = to_rep.id
        factory.updated_at = now
        audit.record(
            actor, "factory", factory.id, "reassign", {"owner_id": (former[factory.id], to_rep.id)}
        )
    result.factories = moving
    result.follow_ups = _move_follow_ups(actor, former, to_rep)
    result.tasks = _move_tasks(actor, former, to_rep)
    db.session.flush()
    _tell(actor, to_rep, moving)
    return result


def _move_follow_ups(actor: User, former: dict[int, int | None], to_rep: User) -> int:
    """The open follow-ups of the moved factories that their former owner held."""
    follow_ups = db.session.scalars(
        select(FollowUp).where(FollowUp.factory_id.in_(list(former)), FollowUp.status == "open")
    ).all()
    moved = 0
    for follow_up in follow_ups:
        if follow_up.assignee_id != former[follow_up.factory_id]:
            continue  # someone else's follow-up on the factory (a manager's own) stays theirs
        audit.record(
            actor,
            "follow_up",
            follow_up.id,
            "reassign",
            {"assignee_id": (follow_up.assignee_id, to_rep.id)},
        )
        follow_up.assignee_id = to_rep.id
        moved += 1
    return moved


def _move_tasks(actor: User, former: dict[int, int | None], to_rep: User) -> int:
    tasks = db.session.scalars(
        select(Task).where(Task.factory_id.in_(list(former)), Task.status.in_(OPEN_TASK_STATUSES))
    ).all()
    moved = 0
    for task in tasks:
        if task.owner_id is not None and task.owner_id != former[task.factory_id]:
            continue
        audit.record(actor, "task", task.id, "reassign", {"owner_id": (task.owner_id, to_rep.id)})
        task.owner_id = to_rep.id
        moved += 1
    return moved


def _tell(actor: User, to_rep: User, factories: list[Factory]) -> None:
    count = len(factories)
    notifications.notify(
        [to_rep] if to_rep.id != actor.id else [],
        "factories_reassigned",
        lambda: ngettext(
            "%(num)d factory is yours now: %(name)s",
            "%(num)d factories are yours now, %(name)s among them",
            count,
            name=factories[0].name,
        ),
        factories[0] if count == 1 else None,
        body=lambda: _("Assigned to you by %(actor)s.", actor=actor.name),
    )


def _listed(actor: User, belt: str, rep: str, now: datetime) -> Select:
    """The factories in scope of a belt and an owner (a rep's id, or "unowned")."""
    statement = scope.factories(actor, clock.today(now))
    if (belt_id := id_or_none(belt)) is not None:
        statement = statement.where(Factory.belt_id == belt_id)
    if rep == "unowned":
        statement = statement.where(Factory.owner_id.is_(None))
    elif (rep_id := id_or_none(rep)) is not None:
        statement = statement.where(Factory.owner_id == rep_id)
    return statement


def listed_ids(actor: User, belt: str, rep: str, now: datetime) -> list[int]:
    """Every factory the reassign page lists under its filters, on every page."""
    return list(db.session.scalars(_listed(actor, belt, rep, now).with_only_columns(Factory.id)))


def candidates(
    actor: User, belt: str, rep: str, page: int, now: datetime, size: int = 100
) -> tuple[list[Factory], int]:
    """One page of the factories in scope of a belt and an owner (a rep's id, or "unowned"),
    by name, and how many there are: what the reassign page lists to tick."""
    statement = _listed(actor, belt, rep, now)
    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = db.session.scalars(
        statement.options(joinedload(Factory.belt), joinedload(Factory.owner))
        .order_by(Factory.name, Factory.id)
        .offset((max(page, 1) - 1) * size)
        .limit(size)
    )
    return list(rows), total


# --- a rep's whole work, and bulk edits --------------------------------------------------------


def hand_over(
    actor: User,
    from_rep: User,
    to_rep: User | None,
    now: datetime,
    *,
    per_belt: dict[int, User] | None = None,
) -> Reassignment:
    """Everything of `from_rep` in the actor's scope to other reps (a rep who leaves or moves):
    the factories they own with their open follow-ups and tasks, and the open follow-ups and
    tasks they hold on factories they do not own.

    `per_belt` names a taker for the factories of a belt; the others go to `to_rep`. A belt
    with work and no taker, or a taker who may not own the belt's factories, is refused with a
    message by its field (`belt_<id>`, or `to_rep`) before anything moves.
    """
    scope.require(actor, "reassign")
    if to_rep is not None and to_rep.id == from_rep.id:
        message = _("Choose two different reps.")
        raise Invalid(message, fields={"to_rep": message})
    owned, loose_follow_ups, loose_tasks = _held_work(actor, from_rep, clock.today(now))
    takers = _takers(from_rep, to_rep, per_belt or {}, owned, loose_follow_ups + loose_tasks)
    result = Reassignment(to_rep)
    by_taker: dict[int, list[Factory]] = {}
    for factory in owned:
        by_taker.setdefault(takers[factory.belt_id].id, []).append(factory)
    for factories in by_taker.values():
        done = reassign(actor, factories, takers[factories[0].belt_id], now)
        result.factories += done.factories
        result.follow_ups += done.follow_ups
        result.tasks += done.tasks
    told = set(by_taker)
    for follow_up in loose_follow_ups:
        taker = takers[follow_up.factory.belt_id]
        audit.record(
            actor, "follow_up", follow_up.id, "reassign", {"assignee_id": (from_rep.id, taker.id)}
        )
        follow_up.assignee_id = taker.id
        result.follow_ups += 1
        told = _tell_loose(actor, from_rep, taker, told)
    for task in loose_tasks:
        taker = takers[task.factory.belt_id]
        audit.record(actor, "task", task.id, "reassign", {"owner_id": (from_rep.id, taker.id)})
        task.owner_id = taker.id
        result.tasks += 1
        told = _tell_loose(actor, from_rep, taker, told)
    db.session.flush()
    return result


def _held_work(
    actor: User, from_rep: User, today: date
) -> tuple[list[Factory], list[FollowUp], list[Task]]:
    """In the actor's scope: the factories the rep owns, and the open follow-ups and tasks
    the rep holds on factories they do not own (those of owned factories move with them)."""
    not_theirs = or_(Factory.owner_id.is_(None), Factory.owner_id != from_rep.id)
    owned = scope.factories(actor, today).where(Factory.owner_id == from_rep.id)
    follow_ups = (
        scope.follow_ups(actor, today)
        .join(Factory, Factory.id == FollowUp.factory_id)
        .where(FollowUp.assignee_id == from_rep.id, FollowUp.status == "open", not_theirs)
    )
    tasks = (
        scope.tasks(actor, today)
        .join(Factory, Factory.id == Task.factory_id)
        .where(Task.owner_id == from_rep.id, Task.status.in_(OPEN_TASK_STATUSES), not_theirs)
    )
    return (
        list(
            db.session.scalars(
                owned.options(joinedload(Factory.belt)).order_by(Factory.name, Factory.id)
            )
        ),
        list(db.session.scalars(follow_ups)),
        list(db.session.scalars(tasks)),
    )


def _takers(
    from_rep: User,
    to_rep: User | None,
    per_belt: dict[int, User],
    owned: list[Factory],
    loose: list,
) -> dict[int, User]:
    """Who takes each belt's work, checked: {belt id: rep}; Invalid names the field at fault."""
    errors: dict[str, str] = {}
    takers: dict[int, User] = {}
    belts = {factory.belt_id: factory.belt for factory in owned}
    belts.update({item.factory.belt_id: item.factory.belt for item in loose})
    for belt_id, belt in sorted(belts.items()):
        name = f"belt_{belt_id}" if belt_id in per_belt else "to_rep"
        taker = per_belt.get(belt_id) or to_rep
        if taker is None:
            errors.setdefault(
                "to_rep",
                _(
                    "Name who takes over %(rep)s's factories, follow-ups and tasks.",
                    rep=from_rep.name,
                ),
            )
        elif taker.id == from_rep.id:
            errors.setdefault(name, _("Choose a rep other than the one leaving."))
        elif taker.role != "rep" or not taker.active:
            errors.setdefault(
                name, _("%(rep)s is not an active rep; choose an active rep.", rep=taker.name)
            )
        elif belt_id in {factory.belt_id for factory in owned} and taker.team_id != belt.team_id:
            errors.setdefault(
                name,
                _(
                    "%(rep)s is not in the team that holds %(belt)s; choose a rep of that team.",
                    rep=taker.name,
                    belt=belt.name_for(str(get_locale() or "en")),
                ),
            )
        else:
            takers[belt_id] = taker
    if errors:
        raise Invalid(next(iter(errors.values())), fields=errors)
    return takers


def _tell_loose(actor: User, from_rep: User, taker: User, told: set[int]) -> set[int]:
    """The taker of follow-ups or tasks alone (no factory) hears of it once."""
    if taker.id in told or taker.id == actor.id:
        return told
    notifications.notify(
        [taker],
        "follow_ups_reassigned",
        lambda: _("Follow-ups and tasks of %(rep)s are yours now", rep=from_rep.name),
        body=lambda: _("Assigned to you by %(actor)s.", actor=actor.name),
    )
    return told | {taker.id}


def move_follow_ups(
    actor: User, from_rep: User, to_rep: User, now: datetime, *, tell: bool = True
) -> int:
    """The open follow-ups that `from_rep` holds on factories in the actor's scope, to `to_rep`
    (the factories keep their owner). Returns how many moved."""
    scope.require(actor, "reassign")
    if from_rep.id == to_rep.id:
        message = _("Choose two different reps.")
        raise Invalid(message, fields={"to_rep": message})
    if to_rep.role != "rep" or not to_rep.active:
        message = _("Choose an active rep.")
        raise Invalid(message, fields={"to_rep": message})
    follow_ups = db.session.scalars(
        scope.follow_ups(actor, clock.today(now)).where(
            FollowUp.assignee_id == from_rep.id, FollowUp.status == "open"
        )
    ).all()
    for follow_up in follow_ups:
        audit.record(
            actor,
            "follow_up",
            follow_up.id,
            "reassign",
            {"assignee_id": (from_rep.id, to_rep.id)},
        )
        follow_up.assignee_id = to_rep.id
    db.session.flush()
    if follow_ups and tell and to_rep.id != actor.id:
        count = len(follow_ups)
        notifications.notify(
            [to_rep],
            "follow_ups_reassigned",
            lambda: ngettext(
                "%(num)d follow-up is yours now", "%(num)d follow-ups are yours now", count
            ),
            body=lambda: _("Taken over from %(rep)s.", rep=from_rep.name),
        )
    return len(follow_ups)


def set_key_account(
    actor: User, factories: Sequence[Factory], flag: bool, now: datetime
) -> list[Factory]:
    """Mark (or unmark) factories as key accounts; returns those that changed, each audited."""
    scope.require(actor, "reassign")
    changed = [factory for factory in factories if factory.is_key_account != flag]
    for factory in changed:
        audit.record(actor, "factory", factory.id, "update", {"is_key_account": (not flag, flag)})
        factory.is_key_account = flag
        factory.updated_at = now
    db.session.flush()
    return changed
