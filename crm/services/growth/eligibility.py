"""Eligibility for the next stage, item by item (DESIGN.md "Promotion").

A factory is eligible when every required task of its current stage is done or
waived, and every required measured task is met by the latest snapshot of its
metric; a snapshot older than the freshness window counts as no data. A measured
task is judged, never ticked, unless a manager waived it. Optional tasks never
block; they are listed so that people see them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import STAGES, Factory, Metric, MetricSnapshot, Task
from crm.models.stage import next_stage
from crm.services.install import settings

MET, NOT_MET, NO_DATA, STALE = "met", "not_met", "no_data", "stale"
UNIT_SUFFIX = {"percent": " %", "minutes": " min", "yuan": " ¥", "points": "", "count": ""}


@dataclass
class Judgement:
    """A measured task against the latest figure of its metric."""

    state: str  # met, not_met, no_data or stale
    value: Decimal | None = None
    month: date | None = None
    gap: Decimal | None = None  # how far from the target, in the metric's unit


@dataclass
class Item:
    task: Task
    satisfied: bool
    judgement: Judgement | None = None

    @property
    def blocks(self) -> bool:
        return self.task.required and not self.satisfied


@dataclass
class Eligibility:
    factory: Factory
    next_stage: str | None
    items: list[Item] = field(default_factory=list)
    refusal: str | None = None  # why the factory cannot move at all (status, last stage)

    @property
    def blocking(self) -> list[Item]:
        return [item for item in self.items if item.blocks]

    @property
    def eligible(self) -> bool:
        return self.refusal is None and self.next_stage is not None and not self.blocking

    @property
    def required_count(self) -> int:
        return sum(1 for item in self.items if item.task.required)


@cache
def month_end(month: date) -> datetime:
    last = calendar.monthrange(month.year, month.month)[1]
    return datetime.combine(month.replace(day=last), time.max, tzinfo=UTC)


def judge(task: Task, snapshot: MetricSnapshot | None, now: datetime, fresh_days: int) -> Judgement:
    if snapshot is None:
        return Judgement(NO_DATA)
    if month_end(snapshot.month) + timedelta(days=fresh_days) < now:
        return Judgement(STALE, snapshot.value, snapshot.month)
    target = task.target_value or Decimal(0)
    if task.comparison == "at_most":
        met, gap = snapshot.value <= target, snapshot.value - target
    else:
        met, gap = snapshot.value >= target, target - snapshot.value
    return Judgement(MET if met else NOT_MET, snapshot.value, snapshot.month, max(gap, Decimal(0)))


def latest_snapshots(
    factory_ids: list[int], *, rows: bool = False
) -> dict[tuple[int, str], MetricSnapshot]:
    """The newest snapshot of each metric for each of the factories, in one query.

    With `rows`, plain rows of the columns judging reads instead of ORM objects.
    """
    if not factory_ids:
        return {}
    newest = (
        select(
            MetricSnapshot.factory_id,
            MetricSnapshot.metric_code,
            func.max(MetricSnapshot.month).label("month"),
        )
        .where(MetricSnapshot.factory_id.in_(factory_ids))
        .group_by(MetricSnapshot.factory_id, MetricSnapshot.metric_code)
        .subquery()
    )
    joined = (
        (MetricSnapshot.factory_id == newest.c.factory_id)
        & (MetricSnapshot.metric_code == newest.c.metric_code)
        & (MetricSnapshot.month == newest.c.month)
    )
    if rows:
        found = db.session.execute(
            select(
                MetricSnapshot.factory_id,
                MetricSnapshot.metric_code,
                MetricSnapshot.month,
                MetricSnapshot.value,
            ).join(newest, joined)
        )
    else:
        found = db.session.scalars(select(MetricSnapshot).join(newest, joined))
    return {(row.factory_id, row.metric_code): row for row in found}


# The columns of a task that judging reads: a list page judges many factories at once, and
# plain rows of these cost a fraction of full ORM objects.
_JUDGED_COLUMNS = (
    Task.id,
    Task.factory_id,
    Task.kind,
    Task.status,
    Task.required,
    Task.metric_code,
    Task.comparison,
    Task.target_value,
)


def judged_items(
    factories: list[Factory], now: datetime, *, rows: bool = False
) -> dict[int, list[Item]]:
    """Each factory's current-stage tasks, judged, in two queries whatever the number of factories.

    A measured task is judged from the latest snapshot of its metric unless it was waived;
    any other task is satisfied when done or waived. With `rows`, each item's task is a plain
    row of the columns judging reads (enough for progress, not for the words of `explain`).
    """
    staged = [factory.id for factory in factories if factory.stage is not None]
    items: dict[int, list[Item]] = {factory.id: [] for factory in factories}
    if not staged:
        return items
    # Only the tasks of each factory's current stage: a senior factory's earlier stages'
    # tasks stay behind in the database, not in the judging.
    statement = (
        (select(*_JUDGED_COLUMNS) if rows else select(Task))
        .join(Factory, Factory.id == Task.factory_id)
        .where(Task.factory_id.in_(staged), Task.stage == Factory.stage)
        .order_by(Task.required.desc(), Task.due_on, Task.id)
    )
    tasks = db.session.execute(statement) if rows else db.session.scalars(statement)
    latest = latest_snapshots(staged, rows=rows)
    fresh_days = int(settings.get("freshness_days"))
    for task in tasks:
        if task.kind == "measured" and task.status != "waived":
            snapshot = latest.get((task.factory_id, task.metric_code or ""))
            judgement = judge(task, snapshot, now, fresh_days)
            items[task.factory_id].append(Item(task, judgement.state == MET, judgement))
        else:
            items[task.factory_id].append(Item(task, task.status in ("done", "waived")))
    return items


def progress(factories: list[Factory], now: datetime) -> dict[int, tuple[int, int]]:
    """(required items satisfied, required items) of each factory's current stage: the
    checklist bar of a list or a board, judged by the same rule as eligibility."""
    items = judged_items(factories, now, rows=True)
    result = {}
    for factory_id, judged in items.items():
        required = [item for item in judged if item.task.required]
        result[factory_id] = (sum(1 for item in required if item.satisfied), len(required))
    return result


def evaluate_many(factories: list[Factory], now: datetime) -> dict[int, Eligibility]:
    """Eligibility of several factories at once (a list page asks for many)."""
    movable = [
        factory
        for factory in factories
        if factory.status == "active" and factory.stage in STAGES and next_stage(factory.stage)
    ]
    items = judged_items(movable, now)
    results = {}
    for factory in factories:
        if factory.status != "active" or factory.stage not in STAGES:
            refusal = _("Only an active factory in a stage moves up.")
            results[factory.id] = Eligibility(factory, None, refusal=refusal)
        elif next_stage(factory.stage) is None:
            refusal = _("University is the last stage.")
            results[factory.id] = Eligibility(factory, None, refusal=refusal)
        else:
            results[factory.id] = Eligibility(factory, next_stage(factory.stage), items[factory.id])
    return results


def evaluate(factory: Factory, now: datetime) -> Eligibility:
    """Whether the factory may move to its next stage, and every item that stands in the way."""
    return evaluate_many([factory], now)[factory.id]


def refresh(factory: Factory, now: datetime) -> Eligibility:
    """Work eligibility out again and keep `eligible_since` true (set once, cleared when lost)."""
    return refresh_many([factory], now)[factory.id]


def refresh_many(factories: list[Factory], now: datetime) -> dict[int, Eligibility]:
    """`refresh` for several factories at once (a batch of figures touches many)."""
    results = evaluate_many(factories, now)
    for factory in factories:
        if results[factory.id].eligible and factory.eligible_since is None:
            factory.eligible_since = now
        elif not results[factory.id].eligible:
            factory.eligible_since = None
    return results


def format_value(value: Decimal | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}{UNIT_SUFFIX.get(unit, '')}"


def explain(item: Item, metrics: dict[str, Metric], locale: str) -> str:
    """One item in words, the right way round ("refund rate 3.1 %, at most 2 %")."""
    task = item.task
    title = task.title_for(locale)
    if item.judgement is None:
        if task.status == "waived":
            return _("%(title)s: waived", title=title)
        return title if item.satisfied else _("%(title)s: not done yet", title=title)
    metric = metrics.get(task.metric_code or "")
    name = metric.name_for(locale) if metric else title
    unit = metric.unit if metric else ""
    judgement = item.judgement
    if judgement.state == NO_DATA:
        return _("%(metric)s: no figures yet", metric=name)
    if judgement.state == STALE:
        return _(
            "%(metric)s: figures from %(month)s are too old",
            metric=name,
            month=judgement.month.strftime("%Y-%m") if judgement.month else "",
        )
    target = format_value(task.target_value, unit)
    value = format_value(judgement.value, unit)
    if task.comparison == "at_most":
        return _(
            "%(metric)s %(value)s, at most %(target)s", metric=name, value=value, target=target
        )
    return _("%(metric)s %(value)s, at least %(target)s", metric=name, value=value, target=target)
