"""A factory's checklist and its measured figures, as the staff's factory page and the factory's
portal show them: the current stage's tasks judged, the tasks added by hand, and six months of
each measured metric, drawn as a sparkline against its target."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, bindparam, select

from crm import clock, statements
from crm.extensions import db
from crm.models import Factory, Metric, MetricSnapshot, Task
from crm.services.growth import eligibility
from crm.services.growth.eligibility import Eligibility, Item, Judgement

TREND_MONTHS = 6
# The sparkline's drawing box, in SVG user units (CSS sizes it).
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 36, 5


@dataclass
class TrendPoint:
    month: date
    value: Decimal | None
    x: float
    y: float | None


@dataclass
class Sparkline:
    """Six months of one metric as SVG coordinates: lines join months that have figures."""

    points: list[TrendPoint]
    segments: list[str]  # "x,y x,y ..." for each run of consecutive months with figures
    target_y: float | None
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT

    @property
    def known(self) -> list[TrendPoint]:
        return [point for point in self.points if point.value is not None]

    @property
    def last(self) -> TrendPoint | None:
        known = self.known
        return known[-1] if known else None


@dataclass
class Figure:
    """A measured metric of the current stage: its latest figure against the target, its trend."""

    metric: Metric
    task: Task
    judgement: Judgement
    sparkline: Sparkline


def checklist(factory: Factory, now: datetime) -> tuple[Eligibility, list[Item], list[Item]]:
    """The factory's eligibility, its current stage's items (judged: a factory that cannot
    move still shows its checklist) and its tasks of no stage, from one read of its tasks."""
    unstaged: dict[int, list[Item]] = {}
    result = eligibility.evaluate(factory, now, unstaged)
    items = _stage_items(factory, result, now, unstaged)
    extra = unstaged[factory.id] if factory.id in unstaged else _unstaged_items(factory)
    return result, items, extra


def _stage_items(
    factory: Factory,
    result: Eligibility,
    now: datetime,
    unstaged: dict[int, list[Item]] | None = None,
) -> list[Item]:
    """The current stage's tasks, judged; a factory that cannot move still shows its checklist."""
    if result.refusal is None:
        return list(result.items)
    return eligibility.judged_items([factory], now, unstaged=unstaged)[factory.id]


def _unstaged_items(factory: Factory) -> list[Item]:
    """Tasks of no stage (added while the factory was a prospect): shown on the checklist,
    never counted for promotion."""
    tasks = db.session.scalars(_unstaged_statement(), {"factory_id": factory.id})
    return [Item(task, task.is_closed) for task in tasks]


@statements.once
def _unstaged_statement() -> Select:
    return (
        select(Task)
        .where(Task.factory_id == bindparam("factory_id"), Task.stage.is_(None))
        .order_by(Task.due_on, Task.id)
    )


def measured_figures(
    factory: Factory, items: list[Item], metrics: dict[str, Metric], now: datetime
) -> list[Figure]:
    """One figure per metric that a task of the stage measures, with six months of trend."""
    measuring: dict[str, Item] = {}
    for item in items:
        code = item.task.metric_code
        if item.task.kind == "measured" and code in metrics and code not in measuring:
            measuring[code] = item
    if not measuring:
        return []
    months = trend_months(now)
    history = _history(factory, measuring, months[0])
    figures = []
    for code, item in measuring.items():
        values = history.get(code, {})
        judgement = item.judgement or Judgement(eligibility.NO_DATA)
        line = sparkline(months, values, item.task.target_value)
        figures.append(Figure(metrics[code], item.task, judgement, line))
    return figures


def _history(factory: Factory, codes: Iterable[str], since: date) -> dict[str, dict[date, Decimal]]:
    values = {"factory_id": factory.id, "codes": list(codes), "since": since}
    history: dict[str, dict[date, Decimal]] = {}
    for code, month, value in db.session.execute(_history_statement(), values):
        history.setdefault(code, {})[month] = value
    return history


@statements.once
def _history_statement() -> Select:
    return select(MetricSnapshot.metric_code, MetricSnapshot.month, MetricSnapshot.value).where(
        MetricSnapshot.factory_id == bindparam("factory_id"),
        MetricSnapshot.metric_code.in_(bindparam("codes", expanding=True)),
        MetricSnapshot.month >= bindparam("since"),
    )


def trend_months(now: datetime) -> list[date]:
    """The first days of the last TREND_MONTHS months, this one included, oldest first."""
    this_month = clock.today(now).replace(day=1)
    return [shift_month(this_month, -back) for back in range(TREND_MONTHS - 1, -1, -1)]


def shift_month(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


def sparkline(months: list[date], values: dict[date, Decimal], target: Decimal | None) -> Sparkline:
    """Scale the figures (and the target, so that its line shows) into the drawing box."""
    scale = [float(value) for value in values.values()]
    if target is not None:
        scale.append(float(target))
    low, high = (min(scale), max(scale)) if scale else (0.0, 1.0)
    if high == low:
        low, high = low - 1, high + 1
    inner = SPARK_HEIGHT - 2 * SPARK_PAD
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(len(months) - 1, 1)

    def y_of(value: Decimal | float) -> float:
        return round(SPARK_PAD + (high - float(value)) / (high - low) * inner, 1)

    points = [
        TrendPoint(
            month,
            values.get(month),
            round(SPARK_PAD + index * step, 1),
            y_of(values[month]) if month in values else None,
        )
        for index, month in enumerate(months)
    ]
    segments, run = [], []
    for point in [*points, None]:
        if point is not None and point.y is not None:
            run.append(f"{point.x},{point.y}")
            continue
        if len(run) > 1:
            segments.append(" ".join(run))
        run = []
    return Sparkline(points, segments, y_of(target) if target is not None else None)
