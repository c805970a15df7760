"""Eligibility as a table of cases (DESIGN.md "Promotion"), and its explanations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm.extensions import db
from crm.models import Metric, MetricSnapshot, Task
from crm.services.growth import eligibility
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
OCTOBER, MARCH = date(2026, 10, 1), date(2026, 3, 1)


def measured(
    factory,
    *,
    metric="response_3min_rate",
    comparison="at_least",
    target="80",
    required=True,
    status="open",
) -> Task:
    task = Task(
        factory=factory,
        stage=factory.stage,
        title_en=f"{metric} target",
        title_zh="目标",
        kind="measured",
        required=required,
        metric_code=metric,
        comparison=comparison,
        target_value=Decimal(target),
        status=status,
        waive_reason="Metric not available" if status == "waived" else None,
    )
    db.session.add(task)
    db.session.flush()
    return task


def snapshot(factory, value, month=OCTOBER, metric="response_3min_rate"):
    db.session.add(
        MetricSnapshot(factory=factory, metric_code=metric, month=month, value=Decimal(value))
    )
    db.session.flush()


@pytest.fixture
def factory(db_session):
    return builders.factory(builders.belt(builders.team()), stage="junior")


# Each case: the factory's tasks (status, required) and snapshot, and whether it is eligible.
CASES = {
    "all done": ([("done", True), ("done", True)], None, True),
    "one required open": ([("done", True), ("open", True)], None, False),
    "required waived": ([("done", True), ("waived", True)], None, True),
    "required handed in but not accepted": ([("submitted", True)], None, False),
    "optional task open": ([("done", True), ("open", False)], None, True),
    "target met": ([("done", True)], ("85", OCTOBER), True),
    "target met exactly": ([("done", True)], ("80", OCTOBER), True),
    "target missed": ([("done", True)], ("72", OCTOBER), False),
    "no data": ([("done", True)], "none", False),
    "figures too old": ([("done", True)], ("95", MARCH), False),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_eligibility_cases(factory, case):
    tasks, figures, expected = CASES[case]
    for index, (status, required) in enumerate(tasks):
        builders.task(factory, f"Item {index}", status=status, required=required)
    if figures is not None:
        measured(factory)
        if figures != "none":
            snapshot(factory, *figures)
    result = eligibility.evaluate(factory, NOW)
    assert result.eligible is expected
    assert result.next_stage == "senior"


def test_a_lower_is_better_target_is_judged_the_right_way_round(factory):
    task = measured(factory, metric="quality_refund_rate", comparison="at_most", target="2")
    snapshot(factory, "3.1", metric="quality_refund_rate")
    result = eligibility.evaluate(factory, NOW)
    item = result.items[0]
    assert item.task == task and not item.satisfied
    assert item.judgement.gap == Decimal("1.1")
    metrics = {m.code: m for m in db.session.query(Metric)}
    assert eligibility.explain(item, metrics, "en") == "Quality refund rate 3.1 %, at most 2 %"


def test_the_latest_snapshot_counts_not_the_best(factory):
    measured(factory)
    snapshot(factory, "90", month=date(2026, 9, 1))
    snapshot(factory, "72", month=OCTOBER)
    item = eligibility.evaluate(factory, NOW).items[0]
    assert item.judgement.state == eligibility.NOT_MET and item.judgement.value == Decimal("72")


def test_explanations_say_what_is_missing(factory):
    measured(factory)
    snapshot(factory, "95", month=MARCH)
    builders.task(factory, "Operator named", status="open")
    result = eligibility.evaluate(factory, NOW)
    metrics = {m.code: m for m in db.session.query(Metric)}
    words = {eligibility.explain(item, metrics, "en") for item in result.blocking}
    assert words == {
        "Inquiries answered within 3 minutes: figures from 2026-03 are too old",
        "Operator named: not done yet",
    }


def test_a_waived_measured_task_does_not_block(factory):
    measured(factory, status="waived")
    assert eligibility.evaluate(factory, NOW).eligible


@pytest.mark.parametrize(("status", "stage"), [("paused", "junior"), ("active", "university")])
def test_paused_factories_and_the_last_stage_are_not_eligible(db_session, status, stage):
    factory = builders.factory(builders.belt(builders.team()), status=status, stage=stage)
    result = eligibility.evaluate(factory, NOW)
    assert not result.eligible and result.refusal


def test_refresh_keeps_eligible_since_true(factory):
    task = builders.task(factory, "Shop opened", status="open")
    eligibility.refresh(factory, NOW)
    assert factory.eligible_since is None
    task.status = "done"
    eligibility.refresh(factory, NOW)
    assert factory.eligible_since == NOW
    eligibility.refresh(factory, datetime(2026, 11, 26, tzinfo=UTC))
    assert factory.eligible_since == NOW  # set once, not moved
    task.status = "open"
    eligibility.refresh(factory, NOW)
    assert factory.eligible_since is None
