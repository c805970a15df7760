"""One rep's portfolio as their manager sees it beside the rep's week: every factory the rep owns
in the manager's scope (churned ones aside, as on the team page), with the rep's visits to it
over the period, the share of them made on site, and whether its follow-up is overdue (the
factory list's own overdue flag).

Two statements whatever the number of factories: the factories with their flag, and the visits
counted per factory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from crm import clock, scope
from crm.clock import day_bounds
from crm.errors import NotFound
from crm.extensions import db
from crm.models import Factory, User, Visit
from crm.services.factories.list_filters import overdue_condition
from crm.services.pipeline import team_report


@dataclass
class Holding:
    factory_id: int
    name: str
    status: str
    stage: str | None
    overdue: bool
    visits: int = 0
    on_site: int = 0

    @property
    def column(self) -> str:
        return self.stage if self.status == "active" and self.stage else self.status

    @property
    def on_site_share(self) -> int | None:
        return round(100 * self.on_site / self.visits) if self.visits else None


@dataclass
class Portfolio:
    rep: User
    start: date
    end: date
    holdings: list[Holding]

    @property
    def visits(self) -> int:
        return sum(holding.visits for holding in self.holdings)

    @property
    def on_site_share(self) -> int | None:
        on_site = sum(holding.on_site for holding in self.holdings)
        return round(100 * on_site / self.visits) if self.visits else None

    @property
    def overdue(self) -> int:
        return sum(1 for holding in self.holdings if holding.overdue)

    @property
    def unvisited(self) -> int:
        return sum(1 for holding in self.holdings if not holding.visits)


def rep_in_scope(actor: User, rep_id: int) -> User:
    """A rep the actor leads (an admin: any rep); anyone else is NotFound, as if absent."""
    for rep in team_report.reps_of(actor):
        if rep.id == rep_id:
            return rep
    raise NotFound()


def portfolio(actor: User, rep: User, start: date, end: date, now: datetime) -> Portfolio:
    """The rep's factories in the actor's scope, least visited first, then by name."""
    in_scope = scope.factory_ids(actor, clock.today(now))
    statement = (
        select(
            Factory.id,
            Factory.name,
            Factory.status,
            Factory.stage,
            overdue_condition(now).label("overdue"),
        )
        .where(Factory.owner_id == rep.id, Factory.id.in_(in_scope), Factory.status != "churned")
        .order_by(Factory.name, Factory.id)
    )
    holdings = {
        row.id: Holding(row.id, row.name, row.status, row.stage, bool(row.overdue))
        for row in db.session.execute(statement)
    }
    since, until = day_bounds(start)[0], day_bounds(end)[1]
    visits = (
        select(
            Visit.factory_id,
            func.count(),
            func.coalesce(
                func.sum(
                    case((Visit.off_site.is_(True) | Visit.position_withheld.is_(True), 0), else_=1)
                ),
                0,
            ),
        )
        .join(Factory, Factory.id == Visit.factory_id)
        .where(
            Factory.owner_id == rep.id,
            Factory.id.in_(in_scope),
            Factory.status != "churned",
            Visit.rep_id == rep.id,
            Visit.checked_in_at >= since,
            Visit.checked_in_at < until,
        )
        .group_by(Visit.factory_id)
    )
    for factory_id, count, on_site in db.session.execute(visits):
        holdings[factory_id].visits, holdings[factory_id].on_site = count, int(on_site)
    ordered = sorted(holdings.values(), key=lambda holding: holding.visits)
    return Portfolio(rep, start, end, ordered)
