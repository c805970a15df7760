"""The reports' targets: per stage and measured target, how many active factories meet it, miss
it, have no fresh figure or had it waived, judged as eligibility judges it, in one grouped
statement. "Not met" counts the factories whose newest figure is fresh and misses (`_missed`,
`freshest_month`), the very rules of target_condition, which the factory list narrows with when
the count is opened (crm.services.pipeline.drill); tests/unit/test_report_counts.py holds the
two to the same factories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from crm.extensions import db
from crm.models import STAGES, Factory, MetricSnapshot, Task, User
from crm.services.growth import eligibility
from crm.services.install import settings
from crm.services.reports.reports import Narrow, _in_scope, _shift_month

# --- target attainment per stage ------------------------------------------------------------


@dataclass
class Attainment:
    """One measured target of a stage, over the active factories in that stage."""

    stage: str
    title_en: str
    title_zh: str
    met: int = 0
    not_met: int = 0
    no_data: int = 0  # no figure, or figures too old
    waived: int = 0

    @property
    def total(self) -> int:
        return self.met + self.not_met + self.no_data + self.waived

    @property
    def rate(self) -> int | None:
        judged = self.met + self.not_met + self.no_data
        return round(100 * self.met / judged) if judged else None

    def title_for(self, locale: str) -> str:
        return self.title_zh if locale.startswith("zh") else self.title_en


def target_attainment(actor: User, belt_id: Narrow | int | None, now: datetime) -> list[Attainment]:
    """Per stage and measured target: the share of active factories in the stage meeting it,
    judged as eligibility judges it (the latest figure, fresh enough), counted in one grouped
    statement. "Not met" counts factories, as target_condition selects them for the list."""
    fresh_from = freshest_month(now, int(settings.get("freshness_days")))
    newest = (
        select(func.max(_LATER.month))
        .where(_LATER.factory_id == Task.factory_id, _LATER.metric_code == Task.metric_code)
        .correlate(Task)
        .scalar_subquery()
    )
    judged = Task.status != "waived"
    fresh = and_(judged, MetricSnapshot.month >= fresh_from)
    missed = and_(fresh, _missed())
    met = and_(fresh, ~_missed())

    def rows(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    statement = (
        select(
            Task.stage,
            Task.title_en,
            func.min(Task.title_zh),
            func.count(),
            rows(Task.status == "waived"),
            rows(met),
            rows(missed),
            func.count(case((missed, Task.factory_id)).distinct()),
        )
        .join(Factory, Factory.id == Task.factory_id)
        .outerjoin(
            MetricSnapshot,
            and_(
                MetricSnapshot.factory_id == Task.factory_id,
                MetricSnapshot.metric_code == Task.metric_code,
                MetricSnapshot.month == newest,
                # A stale newest figure counts as none: only fresh figures need joining.
                MetricSnapshot.month >= fresh_from,
            ),
        )
        .where(
            Task.kind == "measured",
            Task.stage == Factory.stage,
            Factory.status == "active",
            _in_scope(Task.factory_id, actor, belt_id, now),
        )
        .group_by(Task.stage, Task.title_en)
    )
    found = []
    for (
        stage,
        title_en,
        title_zh,
        total,
        waived,
        met_rows,
        missed_rows,
        not_met,
    ) in db.session.execute(statement):
        met_rows, missed_rows, waived = int(met_rows or 0), int(missed_rows or 0), int(waived or 0)
        no_data = total - waived - met_rows - missed_rows  # no figure, or too old
        found.append(Attainment(stage, title_en, title_zh, met_rows, not_met, no_data, waived))
    return sorted(found, key=lambda item: (STAGES.index(item.stage), item.title_en))


# Another snapshot of the same factory and metric: the newest month is the greatest of these.
_LATER = aliased(MetricSnapshot)


def _missed() -> ColumnElement[bool]:
    """The snapshot's figure misses the task's target (eligibility.judge: "at most" is met at or
    under the target, anything else at or over it; no target is a target of 0)."""
    target = func.coalesce(Task.target_value, 0)
    at_most = func.coalesce(Task.comparison, "") == "at_most"
    return or_(
        and_(at_most, MetricSnapshot.value > target),
        and_(~at_most, MetricSnapshot.value < target),
    )


def freshest_month(now: datetime, fresh_days: int) -> date:
    """The oldest month whose figure is still fresh now (eligibility.judge's window)."""
    oldest = now - timedelta(days=fresh_days)
    month = oldest.date().replace(day=1)
    return month if eligibility.month_end(month) >= oldest else _shift_month(month, 1)


def target_condition(stage: str, title_en: str, now: datetime) -> ColumnElement[bool]:
    """An active factory in `stage` whose measured target of that title is not met: its
    newest figure of the metric is fresh and misses the target (as eligibility judges it;
    a waived target is neither met nor not met)."""
    fresh_from = freshest_month(now, int(settings.get("freshness_days")))
    later = aliased(MetricSnapshot)
    newest = (
        select(func.max(later.month))
        .where(
            later.factory_id == MetricSnapshot.factory_id,
            later.metric_code == MetricSnapshot.metric_code,
        )
        .correlate(MetricSnapshot)
        .scalar_subquery()
    )
    figure = (
        select(MetricSnapshot.id)
        .where(
            MetricSnapshot.factory_id == Task.factory_id,
            MetricSnapshot.metric_code == Task.metric_code,
            MetricSnapshot.month == newest,
            MetricSnapshot.month >= fresh_from,
            _missed(),
        )
        .correlate(Task)
        .exists()
    )
    task = (
        select(Task.id)
        .where(
            Task.factory_id == Factory.id,
            Task.kind == "measured",
            Task.stage == stage,
            Task.title_en == title_en,
            Task.status != "waived",
            figure,
        )
        .correlate(Factory)
        .exists()
    )
    return and_(Factory.status == "active", Factory.stage == stage, task)
