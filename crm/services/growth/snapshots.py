"""Metric snapshots: a factory's monthly figures, entered by staff, checked against the metric.

A figure's rule has one home, `check` (a metric of the catalogue, a number within its range,
this month or earlier; a second figure for a month replaces the first, audited): one figure
from the factory page or the API, and a batch of up to BATCH_MAX from the API, all or none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from crm import cache, clock, scope
from crm.errors import Conflict, Invalid, item_field
from crm.extensions import db
from crm.models import Factory, Metric, MetricSnapshot, User
from crm.services.growth import eligibility
from crm.services.install import audit

VALUE_DIGITS = 12  # Numeric(16, 4): twelve digits before the point
# Figures in one batch (POST /api/v1/snapshots:batch): a month of one metric for a belt.
BATCH_MAX = 1000


def metric_catalogue() -> dict[str, cache.MetricInfo]:
    """The metric catalogue by code, in its seeded order (kept by each process: crm.cache)."""
    return cache.metrics()


def month_start(day: date) -> date:
    return day.replace(day=1)


def parse_value(raw: Decimal | int | float | str | None) -> Decimal:
    """A decimal from what a person typed ("72.5", "72,5", " 80 "), or Invalid by the field."""
    if isinstance(raw, Decimal):
        value = raw
    else:
        text = str(raw if raw is not None else "").strip().replace(",", ".").rstrip("%").strip()
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise Invalid(
                _("Enter a number."), fields={"value": _("Enter a number, such as 72.5.")}
            ) from None
    if not value.is_finite() or value.adjusted() >= VALUE_DIGITS:
        raise Invalid(_("Enter a number."), fields={"value": _("This number is too large.")})
    return value


def range_problem(metric: Metric, value: Decimal) -> str | None:
    """Why a value lies outside the metric's valid range, in words, or None."""
    low, high = metric.min_value, metric.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            return _("Enter %(low)s or more.", low=_plain(low))
        return _("Enter a value from %(low)s to %(high)s.", low=_plain(low), high=_plain(high))
    return None


def _plain(value: Decimal | None) -> str:
    return "" if value is None else f"{value.normalize():f}"


def record_snapshot(
    actor: User, factory: Factory, metric_code: str, month: date, raw_value, now: datetime
) -> MetricSnapshot:
    """Enter a month's figure; a second entry for the same month replaces the first (audited)."""
    scope.require(actor, "enter_snapshot")
    figure = check(Figure(factory.id, metric_code, month, raw_value), now)
    return _store(actor, [figure], {factory.id: factory}, now)[0].snapshot


@dataclass(frozen=True)
class Figure:
    """A month's figure as sent: a factory's id, a metric's code, any day of the month and the
    value as typed (once checked: the month's first day and the value read)."""

    factory_id: int
    metric_code: str
    month: date
    value: Decimal | int | float | str | None


@dataclass(frozen=True)
class Recorded:
    snapshot: MetricSnapshot
    created: bool  # False: it replaced the month's earlier figure


def check(figure: Figure, now: datetime) -> Figure:
    """The figure with its month's first day and its value read, or Invalid by the field: a
    metric of the catalogue, a number within the metric's range, this month or earlier."""
    metric = metric_catalogue().get(figure.metric_code)
    if metric is None:
        raise Invalid(_("Choose a metric."), fields={"metric": _("Choose a metric from the list.")})
    value = parse_value(figure.value)
    problem = range_problem(metric, value)
    if problem:
        raise Invalid(problem, fields={"value": problem})
    month = month_start(figure.month)
    if month > month_start(clock.today(now)):
        message = _("Figures can be entered for this month or earlier.")
        raise Invalid(message, fields={"month": message})
    return Figure(figure.factory_id, figure.metric_code, month, value)


def record_figures(actor: User, figures: list[Figure], now: datetime) -> list[Recorded]:
    """Enter many figures at once, all or none, each checked as `record_snapshot` checks one
    and its factory in the actor's scope, in the same few statements whatever their number.

    A refusal names each bad figure by its place in the list (`items[3].value`, as the batch's
    body names it). A factory out of scope is refused as one that does not exist, and a
    month's figure sent twice at its second place.
    """
    scope.require(actor, "enter_snapshot")
    ids = {figure.factory_id for figure in figures}
    factories = scope.get_factories(actor, ids, clock.today(now))
    checked: list[Figure] = []
    problems: dict[str, str] = {}
    first_place: dict[tuple[int, str, date], int] = {}
    for index, figure in enumerate(figures):
        if figure.factory_id not in factories:
            problems[item_field("items", index, "factory_id")] = _("No such factory in your scope.")
            continue
        try:
            figure = check(figure, now)
        except Invalid as error:
            problems.update(
                {item_field("items", index, name): text for name, text in error.fields.items()}
            )
            continue
        key = _key(figure)
        if key in first_place:
            problems[item_field("items", index, "month")] = _(
                "Item %(index)d has this factory's figure of this metric for this month too.",
                index=first_place[key],
            )
        first_place.setdefault(key, index)
        checked.append(figure)
    if problems:
        raise Invalid(_("Correct the items named; nothing was stored."), fields=problems)
    return _store(actor, checked, factories, now)


def _store(
    actor: User, figures: list[Figure], factories: dict[int, Factory], now: datetime
) -> list[Recorded]:
    """Insert the new figures and replace the stored ones, audit each, re-judge eligibility.

    New figures go in by one bulk insert (the ORM would insert them one by one on SQLite, to
    read each id back), then are read back by their keys. Two requests that store the same
    new month's figure at once: the second's insert breaks the unique key, and it is told to
    send again (409), nothing half-stored.
    """
    stored = _stored(figures)
    history: list[tuple[int, str, dict]] = []
    new = []
    for figure in figures:
        snapshot = stored.get(_key(figure))
        if snapshot is None:
            new.append(figure)
            continue
        history.append((snapshot.id, "replace", {"value": (snapshot.value, figure.value)}))
        snapshot.value, snapshot.entered_by_id, snapshot.entered_at = figure.value, actor.id, now
    rows = [
        {
            "factory_id": figure.factory_id,
            "metric_code": figure.metric_code,
            "month": figure.month,
            "value": figure.value,
            "entered_by_id": actor.id,
            "entered_at": now,
        }
        for figure in new
    ]
    try:
        with db.session.begin_nested():
            if rows:
                db.session.execute(insert(MetricSnapshot.__table__), rows)
            db.session.flush()
    except IntegrityError:
        raise Conflict(
            _("Another request stored one of these figures at the same moment: send again.")
        ) from None
    made = _stored(new) if new else {}
    history += [
        (made[_key(figure)].id, "create", {"value": (None, figure.value)}) for figure in new
    ]
    audit.record_many(actor, "metric_snapshot", history, now)
    touched = dict.fromkeys(figure.factory_id for figure in figures)
    eligibility.refresh_many([factories[factory_id] for factory_id in touched], now)
    keys = [_key(figure) for figure in figures]
    return [
        Recorded(made[key], True) if key in made else Recorded(stored[key], False) for key in keys
    ]


def _key(figure: Figure) -> tuple[int, str, date]:
    return (figure.factory_id, figure.metric_code, figure.month)


def _stored(figures: list[Figure]) -> dict[tuple[int, str, date], MetricSnapshot]:
    """The stored figures of these factories, metrics and months, by their key."""
    wanted = {_key(figure) for figure in figures}
    statement = select(MetricSnapshot).where(
        MetricSnapshot.factory_id.in_({key[0] for key in wanted}),
        MetricSnapshot.metric_code.in_({key[1] for key in wanted}),
        MetricSnapshot.month.in_({key[2] for key in wanted}),
    )
    found = {}
    for snapshot in db.session.scalars(statement):
        key = (snapshot.factory_id, snapshot.metric_code, snapshot.month)
        if key in wanted:
            found[key] = snapshot
    return found
