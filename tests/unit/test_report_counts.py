"""The reports count in SQL (targets judged, stage entries paired with the change that ends
them, medians by rank): each count is checked against a plain count in Python of the same
fixture, walked row by row as eligibility and the stage history describe it, and against
numbers worked out by hand, so that a wrong grouping or pairing fails."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from crm import clock, scope
from crm.extensions import db
from crm.models import STAGES, Factory, MetricSnapshot, StageChange, Task
from crm.services.growth import eligibility
from crm.services.install import settings
from crm.services.pipeline import drill
from crm.services.reports import reports
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Shanghai
FRESH, OLDER, STALE = date(2026, 11, 1), date(2026, 10, 1), date(2025, 1, 1)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# --- targets ----------------------------------------------------------------------------------


def measured(factory, title, metric, comparison, target, status="open"):
    return builders.task(
        factory,
        title,
        status=status,
        kind="measured",
        metric_code=metric,
        comparison=comparison,
        target_value=target,
    )


def figure(factory, metric, month, value):
    db.session.add(MetricSnapshot(factory=factory, metric_code=metric, month=month, value=value))


@pytest.fixture
def targets(db_session):
    team, other = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other)
    made = {}
    for name, belt_, status, stage in (
        ("A", belt, "active", "senior"),
        ("B", belt, "active", "senior"),
        ("C", belt, "active", "senior"),
        ("D", belt, "active", "senior"),
        ("E", belt, "active", "senior"),
        ("Churned", belt, "churned", "senior"),
        ("Moved on", belt, "active", "senior"),
        ("Other team's", other_belt, "active", "senior"),
    ):
        made[name] = builders.factory(belt_, status=status, stage=stage, name=name)
        measured(made[name], "Refunds", "quality_refund_rate", "at_most", 2)
        measured(made[name], "Score", "service_score", "at_least", 4.5)
    # A: refunds met, score missed. B: refunds missed, no score at all.
    figure(made["A"], "quality_refund_rate", FRESH, 1.5)
    figure(made["A"], "service_score", FRESH, 4)
    figure(made["B"], "quality_refund_rate", FRESH, 3)
    # C: refunds only stale (no data); score met a month ago, missed in the newest month.
    figure(made["C"], "quality_refund_rate", STALE, 1)
    figure(made["C"], "service_score", OLDER, 5)
    figure(made["C"], "service_score", FRESH, 4)
    # D: both exactly on target (met), the older figures missed.
    figure(made["D"], "quality_refund_rate", OLDER, 9)
    figure(made["D"], "quality_refund_rate", FRESH, 2)
    figure(made["D"], "service_score", OLDER, 1)
    figure(made["D"], "service_score", FRESH, 4.5)
    # E: refunds waived (its figure would miss), score missed.
    db.session.execute(
        Task.__table__.update()
        .where(Task.factory_id == made["E"].id, Task.title_en == "Refunds")
        .values(status="waived", waive_reason="Seasonal")
    )
    figure(made["E"], "quality_refund_rate", FRESH, 7)
    figure(made["E"], "service_score", FRESH, 3)
    # Missed figures that do not count: a churned factory, a factory whose senior tasks stay
    # behind now that it is a university, and another team's factory.
    made["Moved on"].stage = "university"
    for name in ("Churned", "Moved on", "Other team's"):
        figure(made[name], "quality_refund_rate", FRESH, 9)
        figure(made[name], "service_score", FRESH, 1)
    db.session.flush()
    return {"manager": builders.user("manager", leads=[team]), **made}


def judged_in_python(actor) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(met, not met, no data, waived) per target, each task judged by eligibility.judge."""
    factories = db.session.scalars(
        scope.factories(actor, clock.today(NOW)).where(Factory.status == "active")
    ).all()
    latest = eligibility.latest_snapshots([factory.id for factory in factories])
    fresh_days = int(settings.get("freshness_days"))
    counts: dict[tuple[str, str], list[int]] = {}
    for factory in factories:
        for task in db.session.scalars(
            select(Task).where(Task.factory_id == factory.id, Task.kind == "measured")
        ):
            if task.stage != factory.stage:
                continue
            found = counts.setdefault((task.stage, task.title_en), [0, 0, 0, 0])
            if task.status == "waived":
                found[3] += 1
                continue
            snapshot = latest.get((factory.id, task.metric_code))
            state = eligibility.judge(task, snapshot, NOW, fresh_days).state
            found[{eligibility.MET: 0, eligibility.NOT_MET: 1}.get(state, 2)] += 1
    return {key: tuple(value) for key, value in counts.items()}


def test_target_counts_equal_a_judging_of_each_task(targets):
    items = reports.target_attainment(targets["manager"], None, NOW)
    counted = {
        (item.stage, item.title_en): (item.met, item.not_met, item.no_data, item.waived)
        for item in items
    }
    assert counted == judged_in_python(targets["manager"])
    # Worked out by hand: refunds met by A and D, missed by B, C's only figure is stale, E's
    # waived; score met by D, missed by A, C (its newest figure) and E, B has none.
    assert counted == {("senior", "Refunds"): (2, 1, 1, 1), ("senior", "Score"): (1, 3, 1, 0)}


def test_each_not_met_is_the_factories_its_list_shows(targets):
    manager = targets["manager"]
    for item in reports.target_attainment(manager, None, NOW):
        key = drill.target_key(item.stage, item.title_en)
        listed = db.session.scalar(
            scope.factories(manager, clock.today(NOW))
            .where(drill.target_condition(key, NOW))
            .with_only_columns(func.count())
        )
        assert item.not_met == listed


def test_an_admin_counts_every_team(targets):
    admin = builders.user("admin")
    counted = {
        (item.stage, item.title_en): (item.met, item.not_met, item.no_data, item.waived)
        for item in reports.target_attainment(admin, None, NOW)
    }
    assert counted == judged_in_python(admin)
    assert counted[("senior", "Refunds")] == (2, 2, 1, 1)  # and the other team's miss


# --- conversion -------------------------------------------------------------------------------


def change(factory, when, from_status, from_stage, to_status, to_stage, decision="direct"):
    db.session.add(
        StageChange(
            factory_id=factory.id,
            from_status=from_status,
            from_stage=from_stage,
            to_status=to_status,
            to_stage=to_stage,
            requested_at=at(when),
            decided_at=at(when),
            decision=decision,
        )
    )


@pytest.fixture
def histories(db_session):
    team = builders.team()
    north, south = builders.belt(team), builders.belt(team)

    def factory(name, belt, status, stage, entered):
        made = builders.factory(belt, status=status, stage=stage, name=name)
        made.stage_entered_at = at(entered)
        return made

    up = factory("Up", north, "active", "senior", "2026-08-01T02:00:00")
    change(up, "2026-02-10T02:00:00", "prospect", None, "active", "elementary")
    change(up, "2026-03-20T02:00:00", "active", "elementary", "active", "junior")
    change(up, "2026-08-01T02:00:00", "active", "junior", "active", "senior")
    # Junior, back down to elementary (not moving on), then junior again.
    down = factory("Down", north, "active", "junior", "2026-07-01T02:00:00")
    change(down, "2026-01-05T02:00:00", "prospect", None, "active", "elementary")
    change(down, "2026-04-01T02:00:00", "active", "elementary", "active", "junior")
    change(down, "2026-05-01T02:00:00", "active", "junior", "active", "elementary")
    change(down, "2026-07-01T02:00:00", "active", "elementary", "active", "junior")
    # Paused and resumed in elementary: one stay, from February to June.
    paused = factory("Paused", south, "active", "junior", "2026-06-15T02:00:00")
    change(paused, "2026-02-01T02:00:00", "prospect", None, "active", "elementary")
    change(paused, "2026-03-01T02:00:00", "active", "elementary", "paused", "elementary")
    change(paused, "2026-04-01T02:00:00", "paused", "elementary", "active", "elementary")
    change(paused, "2026-06-15T02:00:00", "active", "elementary", "active", "junior")
    # Churned a month after signing; a refused promotion in between changes nothing.
    lost = factory("Lost", south, "churned", "elementary", "2026-03-03T02:00:00")
    change(lost, "2026-03-03T02:00:00", "prospect", None, "active", "elementary")
    change(lost, "2026-03-20T02:00:00", "active", "elementary", "active", "junior", "refused")
    change(lost, "2026-04-03T02:00:00", "active", "elementary", "churned", "elementary")
    # Elementary since last year: only its junior stay counts.
    old = factory("Old", north, "active", "junior", "2026-02-01T02:00:00")
    change(old, "2025-06-01T02:00:00", "prospect", None, "active", "elementary")
    change(old, "2026-02-01T02:00:00", "active", "elementary", "active", "junior")
    # Junior since September with no change recorded; a prospect has no stage to count.
    factory("Unrecorded", south, "active", "junior", "2026-09-01T02:00:00")
    builders.factory(north, status="prospect", name="Prospect")
    db.session.flush()
    return {"manager": builders.user("manager", leads=[team])}


def walked_in_python(actor, quarters, belt=None):
    """The conversion counted by walking each factory's changes in order (an entry is open
    until a change moves the stage or churns it) into (entered, moved on, median days)."""
    today = clock.today(NOW)
    this_quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    firsts = [reports._shift_month(this_quarter, -3 * back) for back in range(quarters)][::-1]
    since = clock.day_bounds(firsts[0])[0]
    factories = db.session.scalars(scope.factories(actor, today)).all()
    factories = [factory for factory in factories if belt in (None, factory.belt_id)]
    entries = []
    for factory in factories:
        open_entry, entered = None, set()
        for row in db.session.scalars(
            select(StageChange)
            .where(StageChange.factory_id == factory.id)
            .order_by(StageChange.decided_at, StageChange.id)
        ):
            if row.decision not in reports.APPLIED or row.decided_at < since:
                continue
            if open_entry and (row.to_status == "churned" or row.to_stage != open_entry[0]):
                moved_on = row.to_status == "active" and (
                    STAGES.index(row.to_stage) > STAGES.index(open_entry[0])
                )
                entries.append((factory.belt_id, *open_entry, row.decided_at, moved_on))
                open_entry = None
            if row.to_status == "active" and (
                row.from_status == "prospect" or row.from_stage != row.to_stage
            ):
                open_entry = (row.to_stage, row.decided_at)
                entered.add(row.to_stage)
        if open_entry:
            entries.append((factory.belt_id, *open_entry, None, False))
        recent = factory.stage_entered_at and factory.stage_entered_at >= since
        if factory.stage and recent and factory.stage not in entered:
            entries.append((factory.belt_id, factory.stage, factory.stage_entered_at, None, False))
    labels = [reports.quarter_of(first) for first in firsts]
    grouped: dict[tuple, list] = {}
    for belt, stage, entered_at, left_at, moved_on in entries:
        quarter = reports.quarter_of(clock.local(entered_at).date())
        for key in ((stage, quarter), (belt, stage)):
            grouped.setdefault(key, []).append((left_at, entered_at, moved_on))
    assert all(key[1] in labels for key in grouped if isinstance(key[0], str))
    result = {}
    for key, stays in grouped.items():
        days = [(left - came).total_seconds() / 86400 for left, came, _ in stays if left]
        median = round(statistics.median(days)) if days else None
        result[key] = (len(stays), sum(moved for *_, moved in stays), median)
    return result


def cohorts(result) -> dict[tuple, tuple]:
    both = {**result.by_quarter, **result.by_belt}
    return {key: (one.entered, one.moved_on, one.median_days) for key, one in both.items()}


def test_conversion_equals_a_walk_through_each_factory_s_changes(histories):
    result = reports.conversion(histories["manager"], None, NOW, quarters=4)
    assert cohorts(result) == walked_in_python(histories["manager"], 4)
    # By hand: elementary was entered in Q1 by Up (left after 38 days), Down (86), Paused
    # (134) and Lost (31, churned): three moved on, the median is (38 + 86) / 2 = 62.
    assert cohorts(result)[("elementary", "2026 Q1")] == (4, 3, 62)
    # Down came back to elementary in Q2 and moved on after 61 days.
    assert cohorts(result)[("elementary", "2026 Q2")] == (1, 1, 61)
    # Junior in Q2: Down went back down after 30 days, Paused is still there.
    assert cohorts(result)[("junior", "2026 Q2")] == (2, 0, 30)
    # Junior in Q3 (Down again, Unrecorded) and senior (Up): none has left.
    assert cohorts(result)[("junior", "2026 Q3")] == (2, 0, None)
    assert cohorts(result)[("senior", "2026 Q3")] == (1, 0, None)


def test_conversion_over_a_chosen_period_counts_the_stages_entered_in_it_alone(histories):
    """The period's first and last days bound the entries, not whole quarters or now: before,
    the reports' conversion was always the last four quarters, whatever period was chosen."""
    manager = histories["manager"]
    period = (date(2026, 2, 5), date(2026, 4, 15), "month")
    result = reports.conversion(manager, None, NOW, period=period)
    assert result.quarters == ["2026 Q1", "2026 Q2"]
    by_quarter = {
        key: (c.entered, c.moved_on, c.median_days) for key, c in result.by_quarter.items()
    }
    # Up's elementary (38 days, moved on) and Lost's (31, churned); Paused's began on 1 Feb.
    assert by_quarter[("elementary", "2026 Q1")] == (2, 1, 34)
    # Up's junior stay from March left in August, after the period: it counts as moved on.
    assert by_quarter[("junior", "2026 Q1")] == (1, 1, 134)
    # Down's junior from April; its elementary again from May is after the period.
    assert by_quarter[("junior", "2026 Q2")] == (1, 0, 30)
    assert set(by_quarter) == {
        ("elementary", "2026 Q1"),
        ("junior", "2026 Q1"),
        ("junior", "2026 Q2"),
    }
    north = db.session.scalar(select(Factory.belt_id).where(Factory.name == "Up"))
    assert result.belt_cohort(north, "junior").entered == 2


def test_conversion_of_fewer_quarters_and_of_one_belt(histories):
    manager = histories["manager"]
    # From July: Up's junior stay began before and is not counted, though it ended in August.
    recent = cohorts(reports.conversion(manager, None, NOW, quarters=2))
    assert recent == walked_in_python(manager, 2)
    assert recent[("junior", "2026 Q3")] == (2, 0, None)
    assert ("elementary", "2026 Q3") not in recent
    north = db.session.scalar(select(Factory.belt_id).where(Factory.name == "Up"))
    narrowed = reports.conversion(manager, north, NOW, quarters=4)
    assert [belt.id for belt in narrowed.belts] == [north]
    assert cohorts(narrowed) == walked_in_python(manager, 4, belt=north)
    # Up, Down (twice) and Old's junior stays: Up moved on after 134 days, Down went back
    # after 30, the others are still there.
    assert cohorts(narrowed)[(north, "junior")] == (4, 1, 82)
