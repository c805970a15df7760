"""Moving a card on the pipeline board, which never moves the factory by itself.

It plans the move (crm.services.growth.promotions holds the rules), the person confirms it in a
dialog, and then a manager's or admin's move is made at once and a rep's becomes a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from crm import scope
from crm.errors import Invalid
from crm.models import STAGES, Factory, StageChange, User
from crm.services.growth import eligibility, promotions
from crm.services.pipeline.board import COLUMNS, column_of

# Where a card can be sent: any of the board's columns (churned among them).
TARGETS = COLUMNS


@dataclass
class MovePlan:
    """What dropping a card on a column would do, for the dialog to say before anything moves."""

    factory: Factory
    target: str
    to_status: str | None = None
    to_stage: str | None = None
    kind: str | None = None  # sign, promote, skip, demote, pause, reactivate, churn
    refusal: str | None = None  # why this move cannot be made (by this person) at all
    override: bool = False  # the move is an override: a reason and the override tick
    direct: bool = False  # the person decides it at once; otherwise it becomes a request
    pending: StageChange | None = None
    check: eligibility.Eligibility | None = None

    @property
    def choosing(self) -> bool:
        """No column named yet: the dialog asks where to (the card's Move button)."""
        return not self.target

    @property
    def possible(self) -> bool:
        return self.refusal is None and self.pending is None and self.kind is not None


def target_move(target: str) -> tuple[str, str | None]:
    """The status and stage a column stands for."""
    if target in STAGES:
        return "active", target
    if target in ("paused", "churned"):
        return target, None
    if target == "prospect":
        raise Invalid(
            _("A factory never goes back to being a prospect; pause or churn it instead."),
            fields={"to": target},
        )
    raise Invalid(_("Choose one of the board's columns."), fields={"to": target})


def plan_move(actor: User, factory: Factory, target: str, now: datetime) -> MovePlan:
    """The move's kind, whether it is an override, and what stands in its way."""
    plan = MovePlan(factory, target, direct=scope.may(actor, "decide_stage_change"))
    if not target:
        plan.pending = promotions.pending_request(factory)
        return plan
    if target == column_of(factory):
        plan.refusal = _("The factory is in this column already.")
        return plan
    try:
        plan.to_status, plan.to_stage = target_move(target)
        move = promotions.plan(factory, plan.to_status, plan.to_stage)
    except Invalid as error:
        plan.refusal = error.message
        return plan
    plan.kind = move.kind
    if move.kind == "promote":
        plan.check = eligibility.evaluate(factory, now)
    # The same rule as promotions.change_directly, which checks it again when the move is made.
    plan.override = move.always_override or (
        move.kind == "promote" and plan.check is not None and not plan.check.eligible
    )
    if plan.override and not plan.direct:
        plan.refusal = _(
            "This move is an override: only a manager or admin can make it, with a reason."
        )
    plan.pending = promotions.pending_request(factory)
    return plan


def move(
    actor: User,
    factory: Factory,
    target: str,
    reason: str,
    override: bool,
    now: datetime,
) -> StageChange:
    """Make the move the dialog confirmed: a manager's or admin's at once, a rep's as a request."""
    if target == column_of(factory):
        raise Invalid(_("The factory is in this column already."), fields={"to": target})
    to_status, to_stage = target_move(target)
    if scope.may(actor, "decide_stage_change"):
        return promotions.change_directly(
            actor, factory, to_status, to_stage, reason, override, now
        )
    if override:
        message = _("This move is an override: only a manager or admin can make it, with a reason.")
        raise Invalid(message, fields={"override": message})
    return promotions.request_change(actor, factory, to_status, to_stage, reason, now)
