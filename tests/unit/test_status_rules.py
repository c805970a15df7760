"""Status rules that hold: a paused or churned factory gets no follow-ups, a reactivated one
gets its next by cadence, whichever way the move was made (board, queue, API)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm import cache
from crm.clock import today
from crm.extensions import db
from crm.models import AuditEntry, FollowUp
from crm.services.field import followups
from crm.services.growth import promotions
from crm.services.pipeline import board_moves
from tests import builders

# Wednesday 25 November 2026, 10:00 in Shanghai.
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary")
    return {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "factory": factory,
        "follow_up": builders.follow_up(factory, rep, NOW + timedelta(days=2)),
    }


def open_follow_ups(factory):
    return db.session.scalars(
        select(FollowUp).where(FollowUp.factory_id == factory.id, FollowUp.status == "open")
    ).all()


def cancel_entry(follow_up):
    return db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "follow_up",
            AuditEntry.record_id == follow_up.id,
            AuditEntry.action == "cancel",
        )
    )


@pytest.mark.parametrize("target", ["churned", "paused"])
def test_a_board_move_to_rest_cancels_open_follow_ups_with_the_reason(world, target):
    factory, follow_up = world["factory"], world["follow_up"]
    board_moves.move(world["manager"], factory, target, "Moved to a rival", False, NOW)
    assert factory.status == target
    assert follow_up.status == "cancelled" and follow_up.completed_at == NOW
    assert open_follow_ups(factory) == [] and factory.next_follow_up_at is None
    entry = cancel_entry(follow_up)
    assert entry is not None and entry.actor_id == world["manager"].id
    assert entry.changes["cancel_reason"] == [None, f"{target}: Moved to a rival"]
    # The rep's Today no longer holds it.
    agenda = followups.agenda(world["rep"], NOW)
    assert follow_up not in agenda.overdue + agenda.today + agenda.upcoming


def test_an_approved_churn_request_cancels_follow_ups_too(world):
    factory, follow_up = world["factory"], world["follow_up"]
    change = promotions.request_change(world["rep"], factory, "churned", None, "Closed down", NOW)
    assert follow_up.status == "open"
    promotions.decide(world["manager"], change, True, "", NOW)
    assert follow_up.status == "cancelled"
    assert cancel_entry(follow_up).changes["cancel_reason"] == [None, "churned: Closed down"]


def test_a_pause_without_a_reason_still_says_why(world):
    factory, follow_up = world["factory"], world["follow_up"]
    promotions.change_directly(world["manager"], factory, "paused", None, "", False, NOW)
    assert cancel_entry(follow_up).changes["cancel_reason"] == [None, "paused"]


@pytest.mark.parametrize("rest", ["churned", "paused"])
def test_reactivating_plans_the_next_follow_up_by_cadence(world, rest):
    factory, manager = world["factory"], world["manager"]
    factory.last_visit_at = NOW - timedelta(days=3)
    board_moves.move(manager, factory, rest, "", False, NOW)
    later = NOW + timedelta(days=10)
    board_moves.move(manager, factory, "elementary", "Back with us", False, later)
    assert factory.status == "active"
    planned = open_follow_ups(factory)
    assert len(planned) == 1
    follow_up = planned[0]
    assert follow_up.origin == "cadence" and follow_up.assignee_id == world["rep"].id
    # Elementary's cadence after the last visit is past: due today, a working day.
    assert today(follow_up.due_at) == followups.due_day(factory, today(later))
    assert today(follow_up.due_at) == date(2026, 12, 7)  # the 5th is a Saturday
    assert factory.next_follow_up_at == follow_up.due_at


def test_reactivation_counts_the_cadence_from_the_last_visit(world):
    factory, manager = world["factory"], world["manager"]
    board_moves.move(manager, factory, "paused", "", False, NOW)
    factory.last_visit_at = NOW
    board_moves.move(manager, factory, "elementary", "", False, NOW + timedelta(days=1))
    (follow_up,) = open_follow_ups(factory)
    days = cache.stages()["elementary"].cadence_days
    assert today(follow_up.due_at) == followups.due_day(factory, today(NOW) + timedelta(days))
    assert follow_up.reason == f"Regular visit (every {days} days)"


def test_reactivation_keeps_a_follow_up_that_is_open_already(world):
    factory, manager = world["factory"], world["manager"]
    board_moves.move(manager, factory, "paused", "", False, NOW)
    kept = followups.schedule(
        world["rep"], factory, date(2026, 12, 1), "Call the boss", NOW, origin="manual"
    )
    board_moves.move(manager, factory, "elementary", "", False, NOW + timedelta(days=1))
    assert open_follow_ups(factory) == [kept]
