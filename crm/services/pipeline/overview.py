"""The manager's view of the pipeline: factories per status and stage, per belt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from crm import clock, scope
from crm.extensions import db
from crm.models import STAGES, Belt, Factory, StageChange, User
from crm.services.growth import eligibility, promotions
from crm.services.pipeline import drill


@dataclass
class BeltRow:
    belt: Belt
    counts: dict[str, int]  # "prospect", each stage code, "paused", "churned"
    total: int


def stage_columns() -> tuple[str, ...]:
    return ("prospect", *STAGES, "paused", "churned")


def counts_by_belt(user: User, on: date) -> tuple[list[BeltRow], dict[str, int]]:
    """Factory counts per belt and column, limited to the user's scope, and the totals.

    Each column is counted with the condition that the factory list narrows with when the
    count is opened (drill.column_condition), so a count and its list cannot disagree."""
    columns = stage_columns()
    sums = [
        func.coalesce(func.sum(case((drill.column_condition(column), 1), else_=0)), 0)
        for column in columns
    ]
    rows = db.session.execute(
        scope.factories(user, on)
        .with_only_columns(Factory.belt_id, *sums)
        .group_by(Factory.belt_id)
    ).all()
    per_belt: dict[int, dict[str, int]] = {}
    totals = dict.fromkeys(columns, 0)
    for belt_id, *counts in rows:
        per_belt[belt_id] = dict(zip(columns, (int(count) for count in counts), strict=True))
        for column, count in per_belt[belt_id].items():
            totals[column] += count
    belts = db.session.scalars(
        select(Belt).where(Belt.id.in_(list(per_belt))).order_by(Belt.code)
    ).all()
    result = [BeltRow(belt, per_belt[belt.id], sum(per_belt[belt.id].values())) for belt in belts]
    return result, totals


def pending_requests_count(user: User, on: date) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(StageChange)
            .where(
                StageChange.decision == "pending",
                StageChange.factory_id.in_(scope.factory_ids(user, on)),
            )
        )
        or 0
    )


def factory_count(user: User, on: date) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(scope.factories(user, on).subquery()))
        or 0
    )


def bulk_approvable(change: StageChange, check: eligibility.Eligibility) -> bool:
    """A pending promotion by one stage of a factory that is eligible for it now."""
    return (
        change.decision == "pending"
        and change.to_status == "active"
        and change.factory.status == "active"
        and change.to_stage is not None
        and change.to_stage == check.next_stage
        and check.eligible
    )


def approve_eligible(
    actor: User, change_ids: list[int], now: datetime
) -> tuple[list[StageChange], list[StageChange]]:
    """Approve the named pending requests whose factory is eligible now, in one go.

    Returns the approved and the skipped ones (no longer pending, or not eligible). Ids out
    of the actor's scope are ignored as if absent. Eligibility is judged for all the
    factories in one batch; each approval then goes through promotions.decide, the rule's home.
    """
    scope.require(actor, "decide_stage_change")
    changes = list(
        db.session.scalars(
            scope.stage_changes(actor, clock.today(now))
            .where(StageChange.id.in_(change_ids))
            .options(joinedload(StageChange.factory), joinedload(StageChange.requested_by))
            .order_by(StageChange.requested_at)
        )
    )
    checks = eligibility.evaluate_many([change.factory for change in changes], now)
    approved, skipped = [], []
    for change in changes:
        if not bulk_approvable(change, checks[change.factory_id]):
            skipped.append(change)
            continue
        approved.append(promotions.decide(actor, change, True, "", now))
    return approved, skipped
