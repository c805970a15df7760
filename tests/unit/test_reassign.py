"""Reassignment: factories, their open follow-ups and open tasks move together, audited, the new
rep told once; only to an active rep of the belt's team; a rep's whole work handed over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import scope
from crm.errors import Invalid, NotAllowed
from crm.extensions import db
from crm.models import AuditEntry, FollowUp, Notification
from crm.services.factories import reassign
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    leaving = builders.user("rep", team_=team)
    taking = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    first = builders.factory(belt, owner=leaving, name="First")
    second = builders.factory(belt, owner=leaving, name="Second")
    elsewhere = builders.factory(belt, owner=taking, name="Taking's own")
    open_task = builders.task(first, "Shop opened", owner_id=leaving.id)
    done_task = builders.task(first, "Video", status="done", owner_id=leaving.id)
    follow_up = builders.follow_up(first, leaving, NOW + timedelta(days=2))
    managers_own = builders.follow_up(first, manager, NOW + timedelta(days=3))
    on_other = builders.follow_up(elsewhere, leaving, NOW + timedelta(days=1))
    return {
        "team": team,
        "leaving": leaving,
        "taking": taking,
        "manager": manager,
        "other_rep": builders.user("rep", team_=other_team),
        "other_manager": builders.user("manager", leads=[other_team]),
        "first": first,
        "second": second,
        "elsewhere": elsewhere,
        "open_task": open_task,
        "done_task": done_task,
        "follow_up": follow_up,
        "managers_own": managers_own,
        "on_other": on_other,
        "other_factory": builders.factory(other_belt, name="Other belt"),
    }


def audits(record_type: str, action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry).where(
                AuditEntry.record_type == record_type, AuditEntry.action == action
            )
        )
    )


def test_factories_move_with_their_open_follow_ups_and_open_tasks(world):
    done = reassign.reassign(world["manager"], [world["first"]], world["taking"], NOW)
    assert done.count == 1 and done.follow_ups == 1 and done.tasks == 1
    assert world["first"].owner_id == world["taking"].id
    assert world["follow_up"].assignee_id == world["taking"].id
    assert world["open_task"].owner_id == world["taking"].id
    # A done task keeps who did it; the manager's own follow-up stays the manager's.
    assert world["done_task"].owner_id == world["leaving"].id
    assert world["managers_own"].assignee_id == world["manager"].id


def test_each_move_is_audited_and_the_new_rep_told_once(world):
    reassign.reassign(world["manager"], [world["first"], world["second"]], world["taking"], NOW)
    moved = audits("factory", "reassign")
    assert {entry.record_id for entry in moved} == {world["first"].id, world["second"].id}
    assert moved[0].changes == {"owner_id": [world["leaving"].id, world["taking"].id]}
    assert len(audits("follow_up", "reassign")) == 1
    assert len(audits("task", "reassign")) == 1
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == world["taking"].id)
    ).all()
    assert len(told) == 1 and told[0].kind == "factories_reassigned"
    assert "2 factories are yours now" in told[0].title


def test_a_reassigned_factory_leaves_the_former_rep_s_scope(world):
    reassign.reassign(world["manager"], [world["first"]], world["taking"], NOW)
    db.session.flush()
    mine = db.session.scalars(scope.factories(world["leaving"], NOW.date())).all()
    assert world["first"] not in mine and world["second"] in mine


def test_only_an_active_rep_of_the_belt_s_team_may_own_it(world):
    with pytest.raises(Invalid):
        reassign.reassign(world["manager"], [world["first"]], world["other_rep"], NOW)
    world["taking"].active = False
    with pytest.raises(Invalid):
        reassign.reassign(world["manager"], [world["first"]], world["taking"], NOW)
    assert world["first"].owner_id == world["leaving"].id


def test_a_rep_may_not_reassign(world):
    with pytest.raises(NotAllowed):
        reassign.reassign(world["leaving"], [world["first"]], world["taking"], NOW)


def test_reps_and_factories_outside_the_manager_s_teams_are_out_of_reach(world):
    with pytest.raises(Invalid):
        reassign.rep_in_scope(world["manager"], world["other_rep"].id)
    ids = [world["first"].id, world["other_factory"].id]
    found = reassign.factories_in_scope(world["manager"], ids, NOW)
    assert found == [world["first"]]


def test_hand_over_moves_a_rep_s_whole_work(world):
    done = reassign.hand_over(world["manager"], world["leaving"], world["taking"], NOW)
    assert {factory.name for factory in done.factories} == {"First", "Second"}
    # Both the follow-up on an owned factory and the one on someone else's factory move.
    assert done.follow_ups == 2
    still = db.session.scalar(
        select(func.count())
        .select_from(FollowUp)
        .where(FollowUp.assignee_id == world["leaving"].id, FollowUp.status == "open")
    )
    assert still == 0


def test_follow_ups_alone_can_move_and_the_factories_stay(world):
    moved = reassign.move_follow_ups(world["manager"], world["leaving"], world["taking"], NOW)
    assert moved == 2
    assert world["first"].owner_id == world["leaving"].id
    assert world["on_other"].assignee_id == world["taking"].id


def test_key_account_flag_in_bulk_is_audited(world):
    changed = reassign.set_key_account(
        world["manager"], [world["first"], world["second"]], True, NOW
    )
    assert len(changed) == 2 and world["first"].is_key_account
    again = reassign.set_key_account(world["manager"], [world["first"]], True, NOW)
    assert again == []
    assert len(audits("factory", "update")) == 2
