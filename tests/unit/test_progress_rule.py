"""Checklist progress, counted by the database for a list's rows (eligibility.progress), says
what the factory page's items say (eligibility.judged_items, by `judge`) for any checklist and
figures: generated tasks of every kind, status and comparison, in the current stage or an
earlier one, against figures of months on both sides of the freshness cut-off."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from crm.extensions import db
from crm.models import STAGES, Metric, MetricSnapshot, Task
from crm.models.stage import COMPARISONS, TASK_KINDS
from crm.models.task import TASK_STATUSES
from crm.services.growth import eligibility
from tests import builders

# 45 days of freshness (the default) before this: figures of September and later are fresh.
NOW = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
MONTHS = [date(2026, month, 1) for month in (7, 8, 9, 10, 11)]
# A few values, so that a figure often equals its target, and any of four places.
VALUES = st.one_of(
    st.sampled_from([Decimal("-1"), Decimal("0"), Decimal("0.5"), Decimal("1"), Decimal("1.0001")]),
    st.decimals(min_value=-5, max_value=5, places=4, allow_nan=False, allow_infinity=False),
)

tasks = st.lists(
    st.fixed_dictionaries(
        {
            # Mostly what the rule reads: required measured tasks of the current stage.
            "current": st.sampled_from([True, True, True, False]),
            "required": st.sampled_from([True, True, True, False]),
            "kind": st.sampled_from(["measured"] * len(TASK_KINDS) + list(TASK_KINDS)),
            "status": st.sampled_from(TASK_STATUSES),
            "metric": st.sampled_from([0, 0, 1, None]),
            "comparison": st.sampled_from([*COMPARISONS, None]),
            "target": st.one_of(st.none(), VALUES),
        }
    ),
    max_size=6,
)
figures = st.lists(
    st.tuples(st.sampled_from([0, 0, 1]), st.sampled_from(MONTHS), VALUES),
    min_size=1,
    max_size=3,
    unique_by=lambda figure: (figure[0], figure[1]),
)


def _task(comparison: str, target: str) -> dict:
    return {
        "current": True,
        "required": True,
        "kind": "measured",
        "status": "open",
        "metric": 0,
        "comparison": comparison,
        "target": Decimal(target),
    }


factories = st.lists(
    st.tuples(st.sampled_from([*STAGES, None]), tasks, figures), min_size=1, max_size=3
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=factories)
# The edges, always tried: a figure equal to its target either way; the newest figure of the
# last fresh month (September) and of the month before it (August, stale).
@example(drawn=[("junior", [_task("at_most", "1")], [(0, date(2026, 9, 1), Decimal("1"))])])
@example(drawn=[("junior", [_task("at_least", "1")], [(0, date(2026, 8, 1), Decimal("2"))])])
@example(drawn=[("junior", [_task("at_least", "1")], [(0, date(2026, 9, 1), Decimal("1"))])])
def test_the_lists_progress_counts_what_the_factory_pages_items_say(db_session, drawn):
    metrics = db.session.scalars(select(Metric.code).order_by(Metric.code).limit(2)).all()
    belt = builders.belt(builders.team())
    made = []
    for stage, task_specs, figure_specs in drawn:
        factory = builders.factory(belt, stage=stage, status="active" if stage else "prospect")
        for spec in task_specs:
            other = next(code for code in STAGES if code != stage)
            db.session.add(
                Task(
                    factory=factory,
                    stage=stage if spec["current"] and stage else other,
                    title_en="Task",
                    title_zh="任务",
                    kind=spec["kind"],
                    required=spec["required"],
                    status=spec["status"],
                    waive_reason="For the test" if spec["status"] == "waived" else None,
                    metric_code=None if spec["metric"] is None else metrics[spec["metric"]],
                    comparison=spec["comparison"],
                    target_value=spec["target"],
                )
            )
        for metric, month, value in figure_specs:
            db.session.add(
                MetricSnapshot(
                    factory=factory, metric_code=metrics[metric], month=month, value=Decimal(value)
                )
            )
        made.append(factory)
    db.session.flush()
    db.session.expire_all()  # the values as the database keeps them, as a page reads them

    judged = eligibility.judged_items(made, NOW)
    expected = {
        factory.id: (
            sum(1 for item in judged[factory.id] if item.task.required and item.satisfied),
            sum(1 for item in judged[factory.id] if item.task.required),
        )
        for factory in made
    }
    assert eligibility.progress(made, NOW) == expected
