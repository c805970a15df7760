"""The factory's own view of its growth: what a factory user may see, and nothing more.

DESIGN.md "What a factory user never sees": no internal notes, photos, voice notes, off-site
flags, distances, key-account flag or staff figures. So the visits here are loaded as the
three columns a factory may see, never as Visit rows a template could dig into.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from crm import statements
from crm.extensions import db
from crm.models import STAGES, Factory, FollowUp, User, Visit
from crm.services.field import followups
from crm.services.growth import eligibility, snapshots
from crm.services.growth.eligibility import Item
from crm.services.growth.figures import Figure, checklist, measured_figures

SHARED_VISITS = 10


@dataclass
class SharedVisit:
    """A past visit as the factory sees it: when, who, why, and the summary shared with it."""

    checked_in_at: datetime
    rep_name: str
    summary: str
    purpose: str = ""


@dataclass
class Growth:
    factory: Factory
    stage_number: int  # 0 for a prospect, 1 (elementary) to 4 (university)
    checklist: list[Item]
    figures: dict[int, Figure]  # by task id: the measured items' latest figure and trend
    to_reach: list[str]  # what stands between the factory and the next stage, in words
    eligible: bool
    next_stage: str | None
    next_visit: FollowUp | None
    visits: list[SharedVisit]
    rep: User | None

    @property
    def done(self) -> int:
        return sum(1 for item in self.checklist if item.satisfied)

    @property
    def percent(self) -> int:
        """How far through the four stages: each finished stage a quarter, plus this one's part."""
        if self.stage_number == 0:
            return 0
        part = self.done / len(self.checklist) if self.checklist else 0
        return round(100 * (self.stage_number - 1 + part) / len(STAGES))


def loading() -> tuple:
    """What the portal reads of the factory, to load with it (scope.get_factory's options):
    its rep, whom the page names."""
    return (joinedload(Factory.owner),)


def growth(factory: Factory, now: datetime, locale: str) -> Growth:
    metrics = snapshots.metric_catalogue()
    result, items, unstaged = checklist(factory, now)
    figures = measured_figures(factory, items, metrics, now)
    return Growth(
        factory=factory,
        stage_number=STAGES.index(factory.stage) + 1 if factory.stage in STAGES else 0,
        checklist=items + unstaged,
        figures={figure.task.id: figure for figure in figures},
        to_reach=eligibility.explain_all(result.blocking, metrics, locale),
        eligible=result.eligible,
        next_stage=result.next_stage,
        next_visit=followups.next_open(factory),
        visits=shared_visits(factory),
        rep=factory.owner,
    )


def shared_visits(factory: Factory, limit: int | None = SHARED_VISITS) -> list[SharedVisit]:
    """The factory's visits, newest first, as the columns it may see (`limit=None`: every one,
    for its data export, crm.services.privacy.takeout_contents)."""
    found = db.session.execute(_shared_statement(limit), {"factory_id": factory.id})
    return [SharedVisit(*row) for row in found]


@statements.once
def _shared_statement(limit: int | None) -> Select:
    """`shared_visits`' statement, built once per process and limit (crm.statements)."""
    statement = (
        select(Visit.checked_in_at, User.name, Visit.summary, Visit.purpose)
        .join(User, User.id == Visit.rep_id)
        .where(Visit.factory_id == bindparam("factory_id"))
        .order_by(Visit.checked_in_at.desc(), Visit.id.desc())
    )
    return statement if limit is None else statement.limit(limit)
