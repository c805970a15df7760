"""The admin's handover of a leaving rep: one service with the managers' reassignment; the rep's
factories, open follow-ups and open tasks move in the deactivation's transaction, each move
audited, every new owner told; one rep or one per belt; nothing left to an inactive user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, or_, select

from crm.errors import Invalid
from crm.extensions import db
from crm.models import AuditEntry, Factory, FollowUp, Notification, Task, User
from crm.services.accounts import lifecycle as accounts
from crm.services.factories import reassign
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    east, west = builders.belt(team), builders.belt(team)
    foreign = builders.belt(other_team)
    leaving = builders.user("rep", team_=team)
    taker = builders.user("rep", team_=team)
    second = builders.user("rep", team_=team)
    bystander = builders.user("rep", team_=team)
    east_1 = builders.factory(east, owner=leaving, name="East one")
    east_2 = builders.factory(east, owner=leaving, name="East two")
    west_1 = builders.factory(west, owner=leaving, name="West one")
    kept = builders.factory(east, owner=bystander, name="Bystander's")
    world = {
        "team": team,
        "east": east,
        "west": west,
        "admin": builders.user("admin"),
        "leaving": leaving,
        "taker": taker,
        "second": second,
        "bystander": bystander,
        "inactive": builders.user("rep", team_=team, active=False),
        "other_team_rep": builders.user("rep", team_=builders.team()),
        "foreign_rep": builders.user("rep", team_=other_team),
        "factories": [east_1, east_2, west_1],
        "kept": kept,
        "open_task": builders.task(east_1, "Shop opened", owner_id=leaving.id),
        "done_task": builders.task(east_1, "Video", status="done", owner_id=leaving.id),
        "loose_task": builders.task(kept, "Loose", owner_id=leaving.id),
        "follow_up": builders.follow_up(west_1, leaving, NOW + timedelta(days=2)),
        "done_follow_up": builders.follow_up(east_2, leaving, NOW - timedelta(days=2)),
        "loose_follow_up": builders.follow_up(kept, leaving, NOW + timedelta(days=1)),
        "bystanders_follow_up": builders.follow_up(kept, bystander, NOW + timedelta(days=1)),
        "foreign_factory": builders.factory(foreign, owner=builders.user("rep", team_=other_team)),
    }
    world["done_follow_up"].status = "done"
    world["done_follow_up"].completed_at = NOW
    db.session.commit()  # so that a test's rollback returns to this world
    return world


def state(world) -> dict:
    """Who holds what, read back from the database."""
    db.session.expire_all()
    return {
        "owners": {f.id: db.session.get(Factory, f.id).owner_id for f in world["factories"]},
        "kept": db.session.get(Factory, world["kept"].id).owner_id,
        "tasks": {
            name: db.session.get(Task, world[name].id).owner_id
            for name in ("open_task", "done_task", "loose_task")
        },
        "follow_ups": {
            name: db.session.get(FollowUp, world[name].id).assignee_id
            for name in ("follow_up", "done_follow_up", "loose_follow_up", "bystanders_follow_up")
        },
        "active": db.session.get(User, world["leaving"].id).active,
    }


def held_by(user: User) -> int:
    factories = db.session.scalar(
        select(func.count()).select_from(Factory).where(Factory.owner_id == user.id)
    )
    follow_ups = db.session.scalar(
        select(func.count())
        .select_from(FollowUp)
        .where(FollowUp.assignee_id == user.id, FollowUp.status == "open")
    )
    tasks = db.session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.owner_id == user.id, Task.status.in_(("open", "submitted")))
    )
    return factories + follow_ups + tasks


def test_handover_moves_exactly_the_reps_factories_open_follow_ups_and_open_tasks(world):
    leaving, taker = world["leaving"], world["taker"]
    moved = accounts.deactivate(world["admin"], leaving, NOW, to_rep=taker)
    db.session.commit()
    after = state(world)
    assert set(after["owners"].values()) == {taker.id}
    assert after["kept"] == world["bystander"].id
    assert after["tasks"] == {
        "open_task": taker.id,
        "done_task": leaving.id,  # a done task keeps who did it
        "loose_task": taker.id,
    }
    assert after["follow_ups"] == {
        "follow_up": taker.id,
        "done_follow_up": leaving.id,
        "loose_follow_up": taker.id,
        "bystanders_follow_up": world["bystander"].id,
    }
    assert after["active"] is False
    assert held_by(leaving) == 0  # nothing left to an inactive user
    assert moved.count == 3 and moved.follow_ups == 2 and moved.tasks == 2


def test_each_move_is_written_to_the_history(world):
    leaving, taker = world["leaving"], world["taker"]
    accounts.deactivate(world["admin"], leaving, NOW, to_rep=taker)
    db.session.flush()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "reassign")).all()
    by_record = {(entry.record_type, entry.record_id): entry for entry in entries}
    for factory in world["factories"]:
        assert by_record[("factory", factory.id)].changes == {"owner_id": [leaving.id, taker.id]}
        assert by_record[("factory", factory.id)].actor_id == world["admin"].id
    for name in ("follow_up", "loose_follow_up"):
        assert ("follow_up", world[name].id) in by_record
    for name in ("open_task", "loose_task"):
        assert ("task", world[name].id) in by_record
    assert len(entries) == 3 + 2 + 2
    deactivation = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.action == "deactivate", AuditEntry.record_id == leaving.id
        )
    )
    assert deactivation.changes == {"active": [True, False]}


def test_a_failure_half_way_moves_nothing(world, monkeypatch):
    before = state(world)

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away half-way")

    # Factories and follow-ups have moved by the time the tasks fail.
    monkeypatch.setattr(reassign, "_move_tasks", broken)
    with pytest.raises(RuntimeError):
        accounts.deactivate(world["admin"], world["leaving"], NOW, to_rep=world["taker"])
    db.session.rollback()
    assert state(world) == before
    assert before["active"] is True
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_deactivating_a_rep_with_work_and_no_taker_is_refused(world):
    before = state(world)
    with pytest.raises(Invalid) as refused:
        accounts.deactivate(world["admin"], world["leaving"], NOW)
    assert "takes over" in refused.value.fields["to_rep"]
    db.session.rollback()
    assert state(world) == before


@pytest.mark.parametrize(
    ("taker", "words"),
    [("inactive", "not an active rep"), ("other_team_rep", "not in the team that holds")],
)
def test_a_handover_to_an_inactive_rep_or_a_rep_of_another_team_is_refused(world, taker, words):
    before = state(world)
    with pytest.raises(Invalid) as refused:
        accounts.deactivate(world["admin"], world["leaving"], NOW, to_rep=world[taker])
    assert words in refused.value.fields["to_rep"]
    db.session.rollback()
    assert state(world) == before


def test_a_per_belt_handover_gives_each_belts_factories_to_the_named_rep(world):
    leaving, taker, second = world["leaving"], world["taker"], world["second"]
    accounts.deactivate(
        world["admin"], leaving, NOW, per_belt={world["east"].id: taker, world["west"].id: second}
    )
    db.session.commit()
    east_1, east_2, west_1 = world["factories"]
    after = state(world)
    assert after["owners"] == {east_1.id: taker.id, east_2.id: taker.id, west_1.id: second.id}
    assert after["follow_ups"]["follow_up"] == second.id  # on West one
    assert after["tasks"]["open_task"] == taker.id  # on East one
    assert held_by(leaving) == 0


def test_a_per_belt_taker_of_the_wrong_team_is_refused_by_the_belts_field(world):
    with pytest.raises(Invalid) as refused:
        accounts.deactivate(
            world["admin"],
            world["leaving"],
            NOW,
            to_rep=world["taker"],
            per_belt={world["west"].id: world["foreign_rep"]},
        )
    assert set(refused.value.fields) == {f"belt_{world['west'].id}"}


def test_every_new_owner_is_notified(world):
    taker, second = world["taker"], world["second"]
    accounts.deactivate(
        world["admin"],
        world["leaving"],
        NOW,
        per_belt={world["east"].id: taker, world["west"].id: second},
    )
    db.session.flush()
    told = db.session.scalars(select(Notification.user_id)).all()
    assert set(told) == {taker.id, second.id}
    assert not db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(
            or_(
                Notification.user_id == world["leaving"].id,
                Notification.user_id == world["admin"].id,
            )
        )
    )


def test_a_rep_without_work_is_deactivated_without_a_taker(world):
    bystander_free = builders.user("rep", team_=world["team"])
    accounts.deactivate(world["admin"], bystander_free, NOW)
    assert bystander_free.active is False


def test_the_managers_hand_over_is_the_same_service(world):
    manager = builders.user("manager", leads=[world["team"]])
    done = reassign.hand_over(manager, world["leaving"], world["taker"], NOW)
    assert done.count == 3 and done.tasks == 2
    assert held_by(world["leaving"]) == 0


def test_a_manager_holding_open_follow_ups_hands_them_over_before_leaving(world):
    manager = builders.user("manager", leads=[world["team"]])
    builders.user("manager", leads=[world["team"]])  # the team keeps a manager
    held = builders.follow_up(world["kept"], manager, NOW + timedelta(days=3))
    db.session.commit()
    with pytest.raises(Invalid) as refused:
        accounts.deactivate(world["admin"], manager, NOW)
    assert "takes over" in refused.value.fields["to_rep"]
    db.session.rollback()
    assert db.session.get(User, manager.id).active
    accounts.deactivate(world["admin"], manager, NOW, to_rep=world["taker"])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(FollowUp, held.id).assignee_id == world["taker"].id
    assert not db.session.get(User, manager.id).active


def test_the_only_manager_of_a_team_is_not_deactivated(world):
    manager = builders.user("manager", leads=[world["team"]])
    db.session.commit()
    with pytest.raises(Invalid) as refused:
        accounts.deactivate(world["admin"], manager, NOW)
    assert "only manager" in refused.value.fields["to_rep"]
    db.session.rollback()
    assert db.session.get(User, manager.id).active
