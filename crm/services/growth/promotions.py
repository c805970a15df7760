"""Stage and status changes: requests, decisions, direct moves and overrides (DESIGN.md "Rules").

A promotion moves one stage up and takes a manager's approval (or an admin's).
Promoting a factory that is not eligible, moving more than one stage, and moving
down are overrides: a manager or admin only, with a stated reason, recorded as such.
Status changes (sign a prospect into stage 1, pause, churn, reactivate) go the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from crm import scope, statements
from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import STAGES, Factory, StageChange, User
from crm.models.stage import next_stage
from crm.services.factories import credit_code
from crm.services.growth import eligibility, stages, status
from crm.services.install import audit
from crm.services.notices import notifications

REASON_MAX = 2000


@dataclass
class Move:
    kind: str  # sign, promote, skip, demote, pause, reactivate, churn
    to_status: str
    to_stage: str | None

    @property
    def always_override(self) -> bool:
        return self.kind in ("skip", "demote")


def _refuse(message: str, field: str = "to_stage") -> Invalid:
    return Invalid(message, fields={field: message})


def plan(factory: Factory, to_status: str, to_stage: str | None) -> Move:
    """What kind of move this is, or Invalid when it is not a move a factory can make."""
    if to_stage is not None and to_stage not in STAGES:
        raise _refuse(_("Choose one of the four stages."))
    if factory.status == "churned" and to_status != "active":
        raise _refuse(_("A churned factory must be reactivated before anything else."))
    if factory.status == "prospect":
        if to_status == "active" and to_stage == STAGES[0]:
            if not factory.credit_code:
                raise _refuse(_("Signing a prospect into stage 1 needs its credit code."))
            overridden = bool(factory.credit_code_override_reason)
            if not credit_code.stands(factory.credit_code, overridden):
                raise _refuse(
                    _(
                        "Signing a prospect into stage 1 needs a valid credit code: correct "
                        "the stored one first. %(problem)s",
                        problem=credit_code.problem(factory.credit_code),
                    )
                )
            return Move("sign", "active", STAGES[0])
        raise _refuse(_("A prospect can only be signed into the first stage."))
    if to_status == "paused":
        if factory.status != "active":
            raise _refuse(_("Only an active factory can be paused."), "to_status")
        return Move("pause", "paused", factory.stage)
    if to_status == "churned":
        return Move("churn", "churned", factory.stage)
    if to_status != "active":
        raise _refuse(_("Choose a status the factory can move to."), "to_status")
    if factory.status in ("paused", "churned"):
        if to_stage not in (None, factory.stage):
            raise _refuse(_("Reactivate the factory first, then change its stage."))
        return Move("reactivate", "active", factory.stage)
    return _stage_move(factory, to_stage)


def _stage_move(factory: Factory, to_stage: str | None) -> Move:
    if to_stage is None or to_stage == factory.stage:
        raise _refuse(_("The factory is already in this stage."))
    if to_stage == next_stage(factory.stage):
        return Move("promote", "active", to_stage)
    if STAGES.index(to_stage) > STAGES.index(factory.stage or STAGES[0]):
        return Move("skip", "active", to_stage)
    return Move("demote", "active", to_stage)


def _needs_override(factory: Factory, move: Move, now: datetime) -> bool:
    if move.always_override:
        return True
    return move.kind == "promote" and not eligibility.evaluate(factory, now).eligible


def pending_request(factory: Factory) -> StageChange | None:
    """The factory's request that waits for a decision (there is at most one)."""
    return db.session.scalar(_pending_statement(), {"factory_id": factory.id})


def pending_among(factory: Factory, newest: list[StageChange], limit: int) -> StageChange | None:
    """The request that waits for a decision, from the factory's `newest` changes (newest
    first, at most `limit` of them read): it is the newest request, so it is among them unless
    the list was cut; only then is the database asked."""
    for change in newest:
        if change.decision == "pending":
            return change
    return pending_request(factory) if len(newest) >= limit else None


@statements.once
def _pending_statement() -> Select:
    """`pending_request`'s statement, built once per process (crm.statements)."""
    return (
        select(StageChange)
        .where(StageChange.factory_id == bindparam("factory_id"), StageChange.decision == "pending")
        .options(joinedload(StageChange.requested_by))
        .limit(1)
    )


def _clean_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise _refuse(_("Keep the reason under %(count)d characters.", count=REASON_MAX), "reason")
    return reason


def request_change(
    actor: User,
    factory: Factory,
    to_status: str,
    to_stage: str | None,
    reason: str,
    now: datetime,
) -> StageChange:
    """A rep (or anyone allowed) asks for a move; the managers over the factory decide."""
    scope.require(actor, "request_stage_change")
    reason = _clean_reason(reason)
    move = plan(factory, to_status, to_stage)
    if _needs_override(factory, move, now):
        raise _refuse(
            _("This move is an override: only a manager or admin can make it, with a reason.")
            if move.always_override
            else _("The factory is not eligible yet; finish the items that are left first.")
        )
    if pending_request(factory) is not None:
        raise Conflict(_("A change for this factory already waits for a decision."))
    change = _new_change(factory, move, actor, reason, now)
    audit.record(
        actor,
        "stage_change",
        change.id,
        "request",
        {"to_status": (None, move.to_status), "to_stage": (None, move.to_stage)},
    )
    notifications.notify(
        notifications.managers_of(factory),
        "stage_change_requested",
        lambda: _("%(name)s: a stage change waits for your decision", name=factory.name),
        factory,
    )
    return change


def _check_override(needed: bool, override: bool, reason: str, reason_field: str) -> None:
    """The one override rule: a move that needs one is made only with the flag and a reason."""
    if needed and not override:
        raise _refuse(_("This move is an override: tick override and give the reason."), "override")
    if override and not reason:
        raise _refuse(_("An override needs a reason."), reason_field)


def decide(
    actor: User,
    change: StageChange,
    approve: bool,
    note: str,
    now: datetime,
    *,
    override: bool = False,
) -> StageChange:
    """Approve (the factory moves) or refuse (with a reason) a pending request.

    A request whose factory no longer qualifies is approved only as an override (the flag and
    the note as its reason), so the request is decided rather than left in the way.
    """
    scope.require(actor, "decide_stage_change")
    if change.decision != "pending":
        raise Conflict(_("This request was decided already."))
    note = _clean_reason(note)
    factory = change.factory
    if not approve and not note:
        raise _refuse(_("Say why the request is refused."), "note")
    needed = False
    if approve:
        move = plan(factory, change.to_status, change.to_stage)
        needed = _needs_override(factory, move, now)
        _check_override(needed, override, note, "note")
    change.decision = "approved" if approve else "refused"
    change.decided_by_id, change.decided_at, change.decision_note = actor.id, now, note
    if needed:
        change.is_override = True
        change.reason = change.reason or note  # an override's record states its reason
    if approve:
        _apply(actor, factory, move, change.reason or note, now)
    audit.record(
        actor,
        "stage_change",
        change.id,
        "override" if needed else "decide",
        {"decision": ("pending", change.decision)},
    )
    _tell_the_outcome(change, factory)
    return change


def change_directly(
    actor: User,
    factory: Factory,
    to_status: str,
    to_stage: str | None,
    reason: str,
    override: bool,
    now: datetime,
) -> StageChange:
    """A manager or admin moves a factory at once; an override needs the flag and a reason."""
    scope.require(actor, "decide_stage_change")
    reason = _clean_reason(reason)
    move = plan(factory, to_status, to_stage)
    if pending_request(factory) is not None:
        raise Conflict(_("A request for this factory waits for a decision: decide it first."))
    needed = _needs_override(factory, move, now)
    _check_override(needed, override, reason, "reason")
    change = _new_change(factory, move, actor, reason, now)
    change.decision, change.decided_by_id, change.decided_at = "direct", actor.id, now
    change.is_override = needed
    _apply(actor, factory, move, reason, now)
    audit.record(
        actor,
        "stage_change",
        change.id,
        "override" if needed else "direct",
        {"to_status": (None, move.to_status), "to_stage": (None, move.to_stage)},
    )
    _tell_the_outcome(change, factory)
    return change


def promote_one_stage(actor: User, factory: Factory, now: datetime) -> StageChange:
    """A manager's promotion of an eligible factory one stage up, at once (no override: a
    factory that no longer qualifies is refused as an override would be)."""
    to_stage = next_stage(factory.stage)
    if to_stage is None or factory.status != "active":
        raise Invalid(_("Only an active factory below the last stage can be promoted."))
    return change_directly(actor, factory, "active", to_stage, "", False, now)


def _new_change(factory: Factory, move: Move, actor: User, reason: str, now: datetime):
    change = StageChange(
        factory_id=factory.id,
        from_status=factory.status,
        from_stage=factory.stage,
        to_status=move.to_status,
        to_stage=move.to_stage,
        requested_by_id=actor.id,
        requested_at=now,
        reason=reason,
    )
    db.session.add(change)
    db.session.flush()
    return change


def _apply(actor: User, factory: Factory, move: Move, reason: str, now: datetime) -> None:
    before = {"status": factory.status, "stage": factory.stage}
    status.change_status(actor, factory, move.to_status, reason, now)
    if move.to_stage != before["stage"]:
        stages.enter_stage(factory, move.to_stage, now)
    eligibility.refresh(factory, now)
    after = {"status": factory.status, "stage": factory.stage}
    audit.record(actor, "factory", factory.id, "move", audit.diff(before, after))


def _tell_the_outcome(change: StageChange, factory: Factory) -> None:
    people = [
        factory.owner,
        *(
            notifications.factory_users(factory)
            if change.decision in ("approved", "direct")
            else []
        ),
    ]
    if change.requested_by is not None:
        people.append(change.requested_by)
    notifications.notify(
        [person for person in people if person is not None and person.id != change.decided_by_id],
        f"stage_change_{change.decision}",
        lambda: (
            _("%(name)s: stage change approved", name=factory.name)
            if change.decision != "refused"
            else _("%(name)s: stage change refused", name=factory.name)
        ),
        factory,
    )
