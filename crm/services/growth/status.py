"""A factory's status and what follows from it (DESIGN.md "Status and stage", "Cadence").

Every change of status goes through `change_status`: the board's moves, the decided
requests of the Promotions queue and the API all reach it through
crm.services.growth.promotions. A paused or churned factory gets no follow-ups, so its
open ones are cancelled with the reason; a factory made active again gets its next one
at its stage's cadence after its last visit (or today if that is past), on the factory's
working days (crm.services.field.followups.schedule, the one calendar rule).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from crm import cache, clock
from crm.extensions import db
from crm.models import Factory, FollowUp, User
from crm.services.field import followups

# The statuses under which a factory gets no follow-ups.
RESTING = ("paused", "churned")
# A prospect's cadence when the stages name none (crm.services.factories.list_filters).
PROSPECT_CADENCE = 14


def change_status(actor: User, factory: Factory, to_status: str, reason: str, now: datetime):
    """Set the factory's status; cancel its follow-ups when it rests, plan one when it wakes."""
    before = factory.status
    if before == to_status:
        return
    if before == "paused" and factory.paused_at is not None:
        # Paused days do not count as time in stage.
        factory.paused_days += max(0, (now - factory.paused_at).days)
        factory.paused_at = None
    factory.status = to_status
    if to_status == "paused":
        factory.paused_at = now
    if to_status in RESTING:
        cancel_open(actor, factory, to_status, reason, now)
    elif to_status == "active" and before in RESTING:
        plan_by_cadence(actor, factory, now)


def cancel_open(actor: User, factory: Factory, to_status: str, reason: str, now: datetime):
    """Cancel the factory's open follow-ups, each with why: the new status and the move's reason."""
    because = to_status if not reason else f"{to_status}: {reason}"
    for follow_up in db.session.scalars(
        select(FollowUp)
        .where(FollowUp.factory_id == factory.id, FollowUp.status == "open")
        .order_by(FollowUp.due_at, FollowUp.id)
    ).all():
        followups.cancel(actor, follow_up, now, because=because)


def plan_by_cadence(actor: User, factory: Factory, now: datetime) -> FollowUp | None:
    """The next follow-up at the stage's cadence after the last visit, as the daily sweep plans
    it (crm.jobs.daily.sweep_cadence); none when one is open already or nobody owns it."""
    if factory.owner is None or not factory.owner.active or followups.oldest_open(factory):
        return None
    stage = cache.stages().get(factory.stage or "")
    days = stage.cadence_days if stage is not None else PROSPECT_CADENCE
    day = clock.today(now)
    if factory.last_visit_at is not None:
        day = max(day, clock.today(factory.last_visit_at) + timedelta(days=days))
    with force_locale(factory.owner.locale or "en"):
        reason = _("Regular visit (every %(days)d days)", days=days)
    return followups.schedule(actor, factory, day, reason, now, origin="cadence")
