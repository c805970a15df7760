"""Metric snapshots: a factory's monthly figures, entered by staff, checked against the metric."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import select

from crm import cache, clock, scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Factory, Metric, MetricSnapshot, User
from crm.services.growth import eligibility
from crm.services.install import audit

VALUE_DIGITS = 12  # Numeric(16, 4): twelve digits before the point


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
    metric = db.session.scalar(select(Metric).where(Metric.code == metric_code))
    if metric is None:
        raise Invalid(_("Choose a metric."), fields={"metric": _("Choose a metric from the list.")})
    value = parse_value(raw_value)
    problem = range_problem(metric, value)
    if problem:
        raise Invalid(problem, fields={"value": problem})
    month = month_start(month)
    if month > month_start(clock.today(now)):
        message = _("Figures can be entered for this month or earlier.")
        raise Invalid(message, fields={"month": message})
    snapshot = db.session.scalar(
        select(MetricSnapshot).where(
            MetricSnapshot.factory_id == factory.id,
            MetricSnapshot.metric_code == metric_code,
            MetricSnapshot.month == month,
        )
    )
    if snapshot is None:
        snapshot = MetricSnapshot(factory_id=factory.id, metric_code=metric_code, month=month)
        db.session.add(snapshot)
        before = None
    else:
        before = snapshot.value
    snapshot.value, snapshot.entered_by_id, snapshot.entered_at = value, actor.id, now
    db.session.flush()
    action = "create" if before is None else "replace"
    audit.record(actor, "metric_snapshot", snapshot.id, action, {"value": (before, value)})
    eligibility.refresh(factory, now)
    return snapshot
