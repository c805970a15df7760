"""Reports: stages over time from the history, conversion and median time in stage by quarter of
entry and by belt, visits per week by rep, and the share of factories meeting each target."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from crm.extensions import db
from crm.models import MetricSnapshot, StageChange
from crm.services.growth import stages
from crm.services.reports import reports
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Shanghai


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def change(factory, when, from_status, from_stage, to_status, to_stage, decision="direct"):
    db.session.add(
        StageChange(
            factory_id=factory.id,
            from_status=from_status,
            from_stage=from_stage,
            to_status=to_status,
            to_stage=to_stage,
            requested_at=when,
            decided_at=when,
            decision=decision,
        )
    )


@pytest.fixture
def world(db_session):
    team, other = builders.team(), builders.team()
    belt, belt2, other_belt = builders.belt(team), builders.belt(team), builders.belt(other)
    rep = builders.user("rep", team_=team)
    # Signed in September, promoted in October: a prospect, elementary, then junior.
    grown = builders.factory(belt, owner=rep, stage="junior", name="Grown")
    grown.created_at = at("2026-08-05T00:00:00")
    change(grown, at("2026-09-10T02:00:00"), "prospect", None, "active", "elementary")
    change(grown, at("2026-10-20T02:00:00"), "active", "elementary", "active", "junior")
    # Entered elementary in August, churned three weeks later.
    lost = builders.factory(belt2, owner=rep, status="churned", stage="elementary", name="Lost")
    lost.created_at = at("2026-07-01T00:00:00")
    change(lost, at("2026-08-01T02:00:00"), "prospect", None, "active", "elementary")
    change(lost, at("2026-08-21T02:00:00"), "active", "elementary", "churned", "elementary")
    # A refused request changes nothing.
    change(lost, at("2026-08-10T02:00:00"), "active", "elementary", "active", "junior", "refused")
    # Always junior since July, no history; and a newcomer of November.
    steady = builders.factory(belt, owner=rep, stage="junior", name="Steady")
    steady.created_at = at("2026-07-01T00:00:00")
    steady.stage_entered_at = at("2026-07-01T00:00:00")
    newcomer = builders.factory(belt, owner=rep, status="prospect", name="Newcomer")
    newcomer.created_at = at("2026-11-02T00:00:00")
    outside = builders.factory(other_belt, name="Other team's")
    outside.created_at = at("2026-01-01T00:00:00")
    db.session.flush()
    return {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "belt": belt,
        "belt2": belt2,
        "grown": grown,
        "steady": steady,
    }


def test_factories_per_stage_follow_the_history_month_by_month(world):
    trend = reports.stages_over_time(world["manager"], None, NOW, months=5)
    assert trend.months == [date(2026, month, 1) for month in (7, 8, 9, 10, 11)]
    junior = [counts["junior"] for counts in trend.counts]
    elementary = [counts["elementary"] for counts in trend.counts]
    prospect = [counts["prospect"] for counts in trend.counts]
    # July: Lost a prospect, Steady junior. August: Grown created as a prospect, Lost churned.
    assert prospect == [1, 1, 0, 0, 1]
    assert elementary == [0, 0, 1, 0, 0]
    assert junior == [1, 1, 1, 2, 2]
    assert trend.highest == 3


def test_conversion_and_median_time_in_stage_by_quarter_of_entry(world):
    result = reports.conversion(world["manager"], None, NOW, quarters=2)
    assert result.quarters == ["2026 Q3", "2026 Q4"]
    elementary = result.cohort("elementary", "2026 Q3")
    # Grown moved on after 40 days, Lost left after 20 without moving on.
    assert (elementary.entered, elementary.moved_on, elementary.rate) == (2, 1, 50)
    assert elementary.median_days == 30
    junior_q4 = result.cohort("junior", "2026 Q4")
    assert (junior_q4.entered, junior_q4.moved_on, junior_q4.median_days) == (1, 0, None)
    # Steady entered junior in July without a recorded change: it counts from its stage date.
    assert result.cohort("junior", "2026 Q3").entered == 1


def test_conversion_by_belt(world):
    result = reports.conversion(world["manager"], None, NOW, quarters=2)
    assert [belt.id for belt in result.belts] == sorted([world["belt"].id, world["belt2"].id])
    assert result.belt_cohort(world["belt"].id, "elementary").rate == 100
    assert result.belt_cohort(world["belt2"].id, "elementary").rate == 0


def test_a_belt_narrows_the_reports(world):
    trend = reports.stages_over_time(world["manager"], world["belt2"].id, NOW, months=1)
    assert sum(trend.counts[0].values()) == 0  # Lost is churned: left out of the columns


def test_visits_per_week_are_bucketed_monday_to_sunday_in_install_time(world):
    rep, factory = world["rep"], world["grown"]
    # Monday 23 November 00:30 in Shanghai is Sunday 16:30 UTC: this week.
    builders.visit(factory, rep, checked_in_at=at("2026-11-22T16:30:00"))
    builders.visit(factory, rep, checked_in_at=at("2026-11-24T03:00:00"))
    # Sunday 22 November 23:30 in Shanghai: last week.
    builders.visit(factory, rep, checked_in_at=at("2026-11-22T15:30:00"))
    builders.visit(factory, rep, checked_in_at=NOW - timedelta(weeks=20))  # too old
    result = reports.visits_per_week(world["manager"], None, NOW, weeks=3)
    assert result.weeks == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert result.rows == [(rep, [0, 1, 2])]


def test_target_attainment_judges_the_latest_fresh_figure(world):
    grown, steady = world["grown"], world["steady"]
    third = builders.factory(world["belt"], owner=world["rep"], stage="junior", name="Third")
    for factory in (grown, steady, third):
        stages.create_stage_tasks(factory, "junior", NOW)
    october = date(2026, 10, 1)
    db.session.add_all(
        [
            MetricSnapshot(
                factory=grown, metric_code="response_3min_rate", month=october, value=85
            ),
            MetricSnapshot(
                factory=steady, metric_code="response_3min_rate", month=october, value=70
            ),
        ]
    )
    db.session.flush()
    items = reports.target_attainment(world["manager"], None, NOW)
    response = next(item for item in items if "3 minutes" in item.title_en)
    assert (response.met, response.not_met, response.no_data) == (1, 1, 1)
    assert response.rate == 33
    assert {item.stage for item in items} == {"junior"}
