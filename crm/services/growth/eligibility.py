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

from flask_babel import gettext as _
from sqlalchemy import Date, Row, Select, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Subquery

from crm import statements
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


@statements.once
def month_end(month: date) -> datetime:
    last = calendar.monthrange(month.year, month.month)[1]
    return datetime.combine(month.replace(day=last), time.max, tzinfo=UTC)


def judge(
    task: Task, snapshot: MetricSnapshot | Row | None, now: datetime, fresh_days: int
) -> Judgement:
    """The task against a snapshot (a row of its month and value), or no data."""
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


def latest_snapshots(factory_ids: list[int]) -> dict[tuple[int, str], Row]:
    """The newest snapshot of each metric for each of the factories, in one query: plain rows
    of the columns judging reads (factory_id, metric_code, month, value), not records."""
    if not factory_ids:
        return {}
    found = db.session.execute(_latest_statement(), {"ids": list(factory_ids)})
    return {(row.factory_id, row.metric_code): row for row in found}


def _newest_months() -> Subquery:
    """The newest month of each metric of each factory bound as "ids"."""
    return (
        select(
            MetricSnapshot.factory_id,
            MetricSnapshot.metric_code,
            func.max(MetricSnapshot.month).label("month"),
        )
        .where(MetricSnapshot.factory_id.in_(bindparam("ids", expanding=True)))
        .group_by(MetricSnapshot.factory_id, MetricSnapshot.metric_code)
        .subquery()
    )


@statements.once
def _latest_statement() -> Select:
    """`latest_snapshots`'s statement, built once per process: building a statement costs more
    than running it (the factories' ids are its parameter)."""
    newest = _newest_months()
    joined = (
        (MetricSnapshot.factory_id == newest.c.factory_id)
        & (MetricSnapshot.metric_code == newest.c.metric_code)
        & (MetricSnapshot.month == newest.c.month)
    )
    return select(
        MetricSnapshot.factory_id,
        MetricSnapshot.metric_code,
        MetricSnapshot.month,
        MetricSnapshot.value,
    ).join(newest, joined)


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
    factories: list[Factory],
    now: datetime,
    *,
    rows: bool = False,
    unstaged: dict[int, list[Item]] | None = None,
) -> dict[int, list[Item]]:
    """Each factory's current-stage tasks, judged, in two queries whatever the number of factories.

    A measured task is judged from the latest snapshot of its metric unless it was waived;
    any other task is satisfied when done or waived. With `rows`, each item's task is a plain
    row of the columns judging reads (enough for progress, not for the words of `explain`).
    Given `unstaged` (with records, not `rows`), the same read also fills it with each staged
    factory's tasks of no stage (added while it was a prospect: shown on its checklist, never
    judged), by due date.
    """
    staged = [factory.id for factory in factories if factory.stage is not None]
    items: dict[int, list[Item]] = {factory.id: [] for factory in factories}
    if not staged:
        return items
    statement, values = _tasks_statement(rows, unstaged is not None), {"ids": staged}
    tasks = db.session.execute(statement, values) if rows else db.session.scalars(statement, values)
    latest = latest_snapshots(staged)
    fresh_days = int(settings.get("freshness_days"))
    if unstaged is not None:
        unstaged.update((factory_id, []) for factory_id in staged)
    for task in tasks:
        if unstaged is not None and task.stage is None:
            unstaged[task.factory_id].append(Item(task, task.is_closed))
        elif task.kind == "measured" and task.status != "waived":
            snapshot = latest.get((task.factory_id, task.metric_code or ""))
            judgement = judge(task, snapshot, now, fresh_days)
            items[task.factory_id].append(Item(task, judgement.state == MET, judgement))
        else:
            items[task.factory_id].append(Item(task, task.status in ("done", "waived")))
    return items


@statements.once
def _tasks_statement(rows: bool, unstaged: bool = False) -> Select:
    """`judged_items`' tasks (as rows of the judged columns, or records), built once per
    process: only the tasks of each factory's current stage (and, with `unstaged`, those of no
    stage); a senior factory's earlier stages' tasks stay behind in the database, not in the
    judging."""
    staged = Task.stage == Factory.stage
    return (
        (select(*_JUDGED_COLUMNS) if rows else select(Task))
        .join(Factory, Factory.id == Task.factory_id)
        .where(
            Task.factory_id.in_(bindparam("ids", expanding=True)),
            or_(staged, Task.stage.is_(None)) if unstaged else staged,
        )
        .order_by(Task.required.desc(), Task.due_on, Task.id)
    )


def progress(factories: list[Factory], now: datetime) -> dict[int, tuple[int, int]]:
    """(required items satisfied, required items) of each factory's current stage: the
    checklist bar of a list or a board, by the rule of `judged_items` (and `judge`), counted by
    the database in one statement (`_progress_statement`): a row per factory, not one per task
    and figure.

    A figure is fresh while its month's end plus the freshness window has not passed, that is
    while its month is not before the month of (now - window): one cut-off month for all."""
    result = {factory.id: (0, 0) for factory in factories}
    staged = [factory.id for factory in factories if factory.stage is not None]
    if not staged:
        return result
    fresh_days = int(settings.get("freshness_days"))
    cutoff = (now - timedelta(days=fresh_days)).date().replace(day=1)
    found = db.session.execute(_progress_statement(), {"ids": staged, "cutoff": cutoff})
    for factory_id, done, total in found:
        result[factory_id] = (int(done or 0), int(total))
    return result


@statements.once
def _progress_statement() -> Select:
    """`progress`'s statement, built once per process (as `_latest_statement`): the
    factories' ids and the cut-off month are its parameters."""
    ids = bindparam("ids", expanding=True)
    newest = _newest_months()
    figure = aliased(MetricSnapshot)
    target = func.coalesce(Task.target_value, 0)
    measured = and_(Task.kind == "measured", Task.status != "waived")
    met = and_(
        figure.month >= bindparam("cutoff", type_=Date),
        case(
            (Task.comparison == "at_most", figure.value <= target),
            else_=figure.value >= target,
        ),
    )
    satisfied = case(
        (and_(measured, met), 1),
        (and_(~measured, Task.status.in_(("done", "waived"))), 1),
        else_=0,
    )
    return (
        select(Task.factory_id, func.sum(satisfied), func.count())
        .join(Factory, Factory.id == Task.factory_id)
        .outerjoin(
            newest,
            and_(
                measured,
                newest.c.factory_id == Task.factory_id,
                newest.c.metric_code == Task.metric_code,
            ),
        )
        .outerjoin(
            figure,
            and_(
                figure.factory_id == newest.c.factory_id,
                figure.metric_code == newest.c.metric_code,
                figure.month == newest.c.month,
            ),
        )
        .where(Task.factory_id.in_(ids), Task.stage == Factory.stage, Task.required.is_(True))
        .group_by(Task.factory_id)
    )


def evaluate_many(
    factories: list[Factory], now: datetime, unstaged: dict[int, list[Item]] | None = None
) -> dict[int, Eligibility]:
    """Eligibility of several factories at once (a list page asks for many); `unstaged` as
    `judged_items` fills it, for those that can move."""
    movable = [
        factory
        for factory in factories
        if factory.status == "active" and factory.stage in STAGES and next_stage(factory.stage)
    ]
    items = judged_items(movable, now, unstaged=unstaged)
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


def evaluate(
    factory: Factory, now: datetime, unstaged: dict[int, list[Item]] | None = None
) -> Eligibility:
    """Whether the factory may move to its next stage, and every item that stands in the way."""
    return evaluate_many([factory], now, unstaged)[factory.id]


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
    return explain_all([item], metrics, locale)[0]


def explain_all(items: list[Item], metrics: dict[str, Metric], locale: str) -> list[str]:
    """The items in words (as `explain`), their sentences translated once for all of them."""
    words = _explain_words()
    return [_explained(item, metrics, locale, words) for item in items]


def _explain_words() -> dict[str, str]:
    # Translated with the "%(...)s" left in: each item's values go in by _explained.
    return {
        "waived": _("%(title)s: waived"),
        "not_done": _("%(title)s: not done yet"),
        NO_DATA: _("%(metric)s: no figures yet"),
        STALE: _("%(metric)s: figures from %(month)s are too old"),
        "at_most": _("%(metric)s %(value)s, at most %(target)s"),
        "at_least": _("%(metric)s %(value)s, at least %(target)s"),
    }


def _explained(item: Item, metrics: dict[str, Metric], locale: str, words: dict[str, str]) -> str:
    task = item.task
    title = task.title_for(locale)
    if item.judgement is None:
        if task.status == "waived":
            return words["waived"] % {"title": title}
        return title if item.satisfied else words["not_done"] % {"title": title}
    metric = metrics.get(task.metric_code or "")
    name = metric.name_for(locale) if metric else title
    unit = metric.unit if metric else ""
    judgement = item.judgement
    if judgement.state == NO_DATA:
        return words[NO_DATA] % {"metric": name}
    if judgement.state == STALE:
        month = judgement.month.strftime("%Y-%m") if judgement.month else ""
        return words[STALE] % {"metric": name, "month": month}
    target = format_value(task.target_value, unit)
    value = format_value(judgement.value, unit)
    comparison = "at_most" if task.comparison == "at_most" else "at_least"
    return words[comparison] % {"metric": name, "value": value, "target": target}
