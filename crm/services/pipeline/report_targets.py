"""The reports' targets: per stage and measured target, how many active factories meet it, miss
it, have no fresh figure or had it waived, judged as eligibility judges it. "Not met" is counted
with target_condition, the very condition the factory list narrows with when the count is opened
(crm.services.pipeline.drill), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import aliased

from crm.extensions import db
from crm.models import STAGES, Factory, MetricSnapshot, Task, User
from crm.services.growth import eligibility
from crm.services.install import settings
from crm.services.pipeline.reports import Narrow, _ids, _scoped, _shift_month

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
    judged as eligibility judges it (the latest figure, fresh enough)."""
    in_scope = _ids(actor, belt_id, now)
    newest = (
        select(
            MetricSnapshot.factory_id,
            MetricSnapshot.metric_code,
            func.max(MetricSnapshot.month).label("month"),
        )
        .where(MetricSnapshot.factory_id.in_(in_scope))
        .group_by(MetricSnapshot.factory_id, MetricSnapshot.metric_code)
        .subquery()
    )
    statement = (
        select(
            Task.stage,
            Task.title_en,
            Task.title_zh,
            Task.status,
            Task.comparison,
            Task.target_value,
            MetricSnapshot.value,
            MetricSnapshot.month,
        )
        .join(Factory, Factory.id == Task.factory_id)
        .outerjoin(
            newest,
            and_(newest.c.factory_id == Task.factory_id, newest.c.metric_code == Task.metric_code),
        )
        .outerjoin(
            MetricSnapshot,
            and_(
                MetricSnapshot.factory_id == Task.factory_id,
                MetricSnapshot.metric_code == Task.metric_code,
                MetricSnapshot.month == newest.c.month,
            ),
        )
        .where(
            Task.kind == "measured",
            Task.stage == Factory.stage,
            Factory.status == "active",
            Task.factory_id.in_(in_scope),
        )
        .execution_options(yield_per=2000)
    )
    fresh_days = int(settings.get("freshness_days"))
    found: dict[tuple[str, str], Attainment] = {}
    for stage, title_en, title_zh, status, comparison, target, value, month in db.session.execute(
        statement
    ):
        item = found.setdefault((stage, title_en), Attainment(stage, title_en, title_zh))
        if status == "waived":
            item.waived += 1
            continue
        task = SimpleNamespace(comparison=comparison, target_value=target)
        snapshot = None if month is None else SimpleNamespace(month=month, value=value)
        state = eligibility.judge(task, snapshot, now, fresh_days).state  # type: ignore[arg-type]
        if state == eligibility.MET:
            item.met += 1
        elif state != eligibility.NOT_MET:  # not met: counted in SQL (_count_not_met)
            item.no_data += 1
    _count_not_met(actor, belt_id, now, found)
    return sorted(found.values(), key=lambda item: (STAGES.index(item.stage), item.title_en))


def _count_not_met(
    actor: User,
    belt_id: Narrow | int | None,
    now: datetime,
    found: dict[tuple[str, str], Attainment],
) -> None:
    """Each target's "not met": the factories that target_condition selects, in one statement,
    so that the count and the factory list it opens are the same factories."""
    if not found:
        return
    keys = list(found)
    sums = [
        func.coalesce(func.sum(case((target_condition(stage, title, now), 1), else_=0)), 0)
        for stage, title in keys
    ]
    counted = db.session.execute(_scoped(actor, belt_id, now).with_only_columns(*sums)).one()
    for key, count in zip(keys, counted, strict=True):
        found[key].not_met = int(count or 0)


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
    target = func.coalesce(Task.target_value, 0)
    at_most = func.coalesce(Task.comparison, "") == "at_most"
    missed = or_(
        and_(at_most, MetricSnapshot.value > target),
        and_(~at_most, MetricSnapshot.value < target),
    )
    figure = (
        select(MetricSnapshot.id)
        .where(
            MetricSnapshot.factory_id == Task.factory_id,
            MetricSnapshot.metric_code == Task.metric_code,
            MetricSnapshot.month == newest,
            MetricSnapshot.month >= fresh_from,
            missed,
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
