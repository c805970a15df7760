"""The figure import: monthly metric snapshots by credit code, metric and month.

The checks are the figure form's (crm.services.growth.snapshots: a number, the metric's range, no
future month); a new value for a stored month replaces it and is audited as the form's
entry is; eligibility is worked out again for every factory whose figures changed.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import case, insert, select, update

from crm import clock, scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import Factory, ImportRun, MetricSnapshot, User
from crm.services.factories import credit_code
from crm.services.growth import eligibility, snapshots
from crm.services.imports.import_rows import (
    Plan,
    Progress,
    Staged,
    chunks,
    column_labels,
    counted,
    keyed_in,
    staged_rows,
)
from crm.services.install import audit


def plan(actor: User, run: ImportRun, now: datetime, progress: Progress | None = None) -> Plan:
    result = Plan()
    rows = staged_rows(run, result)
    if rows is None:
        return result
    rows = list(rows)
    labels = column_labels(run)
    metrics = _metrics()
    codes = sorted({credit_code.normalise(row.text("credit_code")) for row in rows} - {""})
    factory_of = _factories(actor, codes, now)
    this_month = snapshots.month_start(clock.today(now))
    months = {_month(row.values.get("month"), this_month, {}) for row in rows} - {None}
    stored = _stored([f for f, visible in factory_of.values() if visible], months)
    seen: dict[tuple, int] = {}
    for row in counted(rows, progress):
        errors: dict[str, str] = {}
        factory_id = _factory(row, factory_of, errors)
        metric = metrics.get(row.text("metric").lower())
        if metric is None:
            errors["metric"] = _(
                "No figure is called %(name)s: use a figure's code or name, such as %(example)s.",
                name=row.text("metric"),
                example="response_3min_rate",
            )
        month = _month(row.values.get("month"), this_month, errors)
        value = _value(row.text("value"), metric, errors)
        key = (factory_id, metric.code if metric else "", month)
        if not errors and key in seen:
            errors["credit_code"] = _(
                "Line %(line)d has a figure for this factory, figure and month too.",
                line=seen[key],
            )
        seen.setdefault(key, row.line)
        for name, message in errors.items():
            result.refuse(row.line, labels.get(name, name), message)
        if errors or result.problems:
            continue
        before = stored.get(key)
        if before is None:
            result.creates.append({"key": key, "value": value})
        elif before[1] != value:
            result.updates.append({"id": before[0], "key": key, "from": before[1], "value": value})
        else:
            result.unchanged += 1
    return result


def _metrics() -> dict:
    found = {}
    for metric in snapshots.metric_catalogue().values():
        for key in (metric.name_en, metric.name_zh, metric.code):
            found[key.strip().lower()] = metric
    return found


def _factories(actor: User, codes: list[str], now: datetime) -> dict[str, tuple[int, bool]]:
    """The factories with these credit codes, with whether each is in the actor's scope."""
    visible = case((scope.factory_condition(actor, clock.today(now)), True), else_=False)
    wanted, found = set(codes), {}
    for condition in keyed_in(Factory.credit_code, codes):
        statement = select(Factory.id, Factory.credit_code, visible).where(condition)
        for factory_id, code, seen in db.session.execute(statement):
            if code in wanted:
                found[code] = (factory_id, bool(seen))
    return found


def _stored(factory_ids: list[int], months: set) -> dict[tuple, tuple[int, Decimal]]:
    """The stored figures of these factories for the file's months."""
    wanted, found = set(factory_ids), {}
    for condition in keyed_in(MetricSnapshot.factory_id, factory_ids):
        statement = select(
            MetricSnapshot.id,
            MetricSnapshot.factory_id,
            MetricSnapshot.metric_code,
            MetricSnapshot.month,
            MetricSnapshot.value,
        ).where(condition, MetricSnapshot.month.in_(sorted(months)))
        for row in db.session.execute(statement):
            if row.factory_id in wanted:
                found[(row.factory_id, row.metric_code, row.month)] = (row.id, row.value)
    return found


def _factory(row: Staged, factory_of: dict, errors: dict[str, str]) -> int | None:
    code = credit_code.normalise(row.text("credit_code"))
    problem = credit_code.problem(code) if code else _("Enter the factory's credit code.")
    if problem:
        errors["credit_code"] = problem
        return None
    factory_id, visible = factory_of.get(code, (None, False))
    if factory_id is None:
        errors["credit_code"] = _("No factory has this credit code: import the factory first.")
    elif not visible:
        errors["credit_code"] = _("A factory with this credit code exists outside your scope.")
    return factory_id if visible else None


_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*\d{1,2}\s*日?|\s*月)?$")


def _month(cell, this_month: date, errors: dict[str, str]) -> date | None:
    """A month as sheets write it: 2026-10, 2026/10/01, 2026年10月, 202610."""
    text = str(cell if cell is not None else "").strip()
    if isinstance(cell, int | float) and len(str(int(cell))) == 6:
        text = str(int(cell))
    if re.fullmatch(r"\d{6}", text):
        text = f"{text[:4]}-{text[4:]}"
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        errors["month"] = _("Enter the month as 2026-10 (year and month).")
        return None
    month = date(int(match.group(1)), int(match.group(2)), 1)
    if month > this_month:
        errors["month"] = _("Figures can be entered for this month or earlier.")
    return month


def _value(text: str, metric, errors: dict[str, str]) -> Decimal | None:
    try:
        value = snapshots.parse_value(text)
    except Invalid as error:
        errors["value"] = error.fields.get("value", error.message)
        return None
    if metric is not None:
        problem = snapshots.range_problem(metric, value)
        if problem:
            errors["value"] = problem
    return value


def write(actor: User, result: Plan, now: datetime) -> None:
    """Insert the new figures, replace the changed ones, audit each, re-judge eligibility."""
    history: list[tuple[int, str, dict]] = []
    for part in chunks(result.creates):
        rows = [
            {
                "factory_id": item["key"][0],
                "metric_code": item["key"][1],
                "month": item["key"][2],
                "value": item["value"],
                "entered_by_id": actor.id,
                "entered_at": now,
            }
            for item in part
        ]
        made = db.session.scalars(
            insert(MetricSnapshot).returning(MetricSnapshot.id, sort_by_parameter_order=True),
            rows,
        ).all()
        history += [
            (snapshot_id, "create", {"value": (None, item["value"])})
            for snapshot_id, item in zip(made, part, strict=True)
        ]
    for part in chunks(result.updates):
        db.session.execute(
            update(MetricSnapshot),
            [
                {
                    "id": item["id"],
                    "value": item["value"],
                    "entered_by_id": actor.id,
                    "entered_at": now,
                }
                for item in part
            ],
        )
        history += [
            (item["id"], "replace", {"value": (item["from"], item["value"])}) for item in part
        ]
    audit.record_many(actor, "metric_snapshot", history, now)
    touched = sorted({item["key"][0] for item in (*result.creates, *result.updates)})
    _refresh_eligibility(touched, now)


def _refresh_eligibility(factory_ids: list[int], now: datetime) -> None:
    for part in chunks(factory_ids, 500):
        records = list(db.session.scalars(select(Factory).where(Factory.id.in_(part))))
        eligibility.refresh_many(records, now)
        db.session.flush()
