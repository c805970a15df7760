"""Stuck factories: the four lists with known members, sorted by how long they have waited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.extensions import db
from crm.models import Setting, StageChange
from crm.services.pipeline import stuck
from crm.services.pipeline.stuck import StuckFilters
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def world(db_session):
    team, other = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other)
    rep, rep_b = builders.user("rep", team_=team), builders.user("rep", team_=other)

    def make(name, stage="elementary", belt_=belt, owner=rep, entered=10, **fields):
        fields.setdefault("last_visit_at", days_ago(1))
        factory = builders.factory(belt_, owner=owner, stage=stage, name=name, **fields)
        factory.stage_entered_at = days_ago(entered)
        return factory

    factories = {
        # Elementary's cadence is 7 days: stale after 14 without a visit.
        "stale_20": make("Stale 20", last_visit_at=days_ago(20)),
        "stale_50": make("Stale 50", last_visit_at=days_ago(50)),
        "overdue_2": make("Overdue 2", next_follow_up_at=days_ago(2)),
        "overdue_9": make("Overdue 9", next_follow_up_at=days_ago(9)),
        # Elementary's limit is 60 days in stage; paused days do not count.
        "long_70": make("Long 70", entered=70),
        "long_but_paused": make("Paused days", entered=70, paused_days=15),
        # Junior's expected time is 120 days: 5 days past, where Long 70 is 10 days past.
        "long_junior": make("Junior 125", stage="junior", entered=125),
        # University has no expected time until the admin sets one: never long in stage.
        "university": make("University 500", stage="university", entered=500),
        "eligible": make("Eligible", eligible_since=days_ago(5)),
        "eligible_asked": make("Eligible asked", eligible_since=days_ago(8)),
        "paused_stale": make("Paused stale", status="paused", last_visit_at=days_ago(90)),
        "other_team": make("Other team", belt_=other_belt, owner=rep_b, last_visit_at=days_ago(40)),
    }
    db.session.add(
        StageChange(
            factory_id=factories["eligible_asked"].id,
            from_status="active",
            from_stage="elementary",
            to_status="active",
            to_stage="junior",
            requested_by_id=rep.id,
            requested_at=days_ago(1),
        )
    )
    db.session.flush()
    return {
        **factories,
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "admin": builders.user("admin"),
    }


def names(actor, kind, **filters) -> list[str]:
    result = stuck.stuck(actor, StuckFilters(kind=kind, **filters), NOW)
    return [row.factory.name for row in result.rows]


def test_stale_lists_the_longest_without_a_visit_first(world):
    assert names(world["manager"], "stale") == ["Stale 50", "Stale 20"]


def test_overdue_lists_the_most_overdue_first(world):
    assert names(world["manager"], "overdue") == ["Overdue 9", "Overdue 2"]


def test_long_in_stage_leaves_paused_days_out_and_uses_each_stage_s_limit(world):
    rows = stuck.stuck(world["manager"], StuckFilters(kind="long"), NOW).rows
    assert [(row.factory.name, row.days, row.limit, row.past) for row in rows] == [
        ("Long 70", 70, 60, 10),
        ("Junior 125", 125, 120, 5),
    ]


def test_long_in_stage_comes_farthest_past_the_stage_s_expected_time_first(world):
    # In stage longest is Junior 125, but Long 70 is further past its stage's expected time.
    assert names(world["manager"], "long") == ["Long 70", "Junior 125"]


def test_university_is_never_long_in_stage_unless_the_admin_sets_its_time(world):
    assert "University 500" not in names(world["manager"], "long")
    db.session.add(
        Setting(
            key="long_in_stage_days",
            value={"elementary": 60, "junior": 120, "senior": 180, "university": 365},
        )
    )
    db.session.flush()
    assert names(world["manager"], "long") == ["University 500", "Long 70", "Junior 125"]


def test_the_limits_come_from_the_admin_s_settings(world):
    db.session.add(
        Setting(
            key="long_in_stage_days",
            value={"elementary": 80, "junior": 120, "senior": 180, "university": 365},
        )
    )
    db.session.flush()
    assert names(world["manager"], "long") == ["University 500", "Junior 125"]


def test_a_stage_left_empty_is_never_long_in_stage(world):
    db.session.add(Setting(key="long_in_stage_days", value={"junior": 120}))
    db.session.flush()
    assert names(world["manager"], "long") == ["Junior 125"]


def test_eligible_not_requested_leaves_out_those_with_a_request_waiting(world):
    assert names(world["manager"], "eligible") == ["Eligible"]


def test_the_counts_of_all_four_lists_come_with_any_one(world):
    result = stuck.stuck(world["manager"], StuckFilters(kind="overdue"), NOW)
    assert result.counts == {"stale": 2, "overdue": 2, "long": 2, "eligible": 1}


def test_a_manager_sees_only_their_belts_and_an_admin_all(world):
    assert "Other team" not in names(world["manager"], "stale")
    assert names(world["admin"], "stale") == ["Stale 50", "Other team", "Stale 20"]


def test_the_rep_filter_narrows_every_list(world):
    other_rep = builders.user("rep", team_=world["rep"].team)
    world["stale_50"].owner_id = other_rep.id
    db.session.flush()
    assert names(world["manager"], "stale", rep=str(other_rep.id)) == ["Stale 50"]
