"""Scope (DESIGN.md "Scope"): who sees which factories, and the getter that answers 404."""

from __future__ import annotations

from datetime import date

import pytest

from crm import scope
from crm.errors import NotAllowed, NotFound
from crm.extensions import db
from crm.models import Belt, Leave
from tests import builders

DAY = date(2026, 11, 25)


@pytest.fixture
def world(db_session):
    team_a, team_b = builders.team(), builders.team()
    belt_a, belt_b = builders.belt(team_a), builders.belt(team_b)
    rep, rep2 = builders.user("rep", team_=team_a), builders.user("rep", team_=team_a)
    rep_b = builders.user("rep", team_=team_b)
    records = {
        "team_a": team_a,
        "rep": rep,
        "rep2": rep2,
        "rep_b": rep_b,
        "own": builders.factory(belt_a, owner=rep),
        "other_reps": builders.factory(belt_a, owner=rep2),
        "unowned_prospect": builders.factory(belt_a, status="prospect"),
        "unowned_active": builders.factory(belt_a),
        "other_belt_prospect": builders.factory(belt_b, status="prospect"),
        "other_team": builders.factory(belt_b, owner=rep_b),
        "manager": builders.user("manager", leads=[team_a]),
        "admin": builders.user("admin"),
    }
    records["factory_user"] = builders.user("factory", factory=records["own"])
    return records


def visible(user) -> set[int]:
    return set(db.session.scalars(scope.factory_ids(user, DAY)))


def ids(world, *names) -> set[int]:
    return {world[name].id for name in names}


def test_rep_sees_own_factories_and_unowned_prospects_of_the_teams_belts(world):
    assert visible(world["rep"]) == ids(world, "own", "unowned_prospect")


def test_rep_cannot_see_another_reps_factory(world):
    with pytest.raises(NotFound):
        scope.get_factory(world["rep"], world["other_reps"].id, DAY)


def test_manager_sees_every_factory_of_the_belts_they_lead(world):
    assert visible(world["manager"]) == ids(
        world, "own", "other_reps", "unowned_prospect", "unowned_active"
    )


def test_factory_user_sees_its_own_factory_only(world):
    assert visible(world["factory_user"]) == ids(world, "own")


def test_admin_sees_all(world):
    assert len(visible(world["admin"])) == 6


def test_a_rep_standing_in_sees_the_absent_reps_factories_for_the_leaves_days(world):
    db.session.add(
        Leave(rep=world["rep2"], stand_in=world["rep"], starts_on=date(2026, 11, 20), ends_on=DAY)
    )
    db.session.flush()
    assert world["other_reps"].id in visible(world["rep"])
    after = set(db.session.scalars(scope.factory_ids(world["rep"], date(2026, 11, 26))))
    assert world["other_reps"].id not in after


def test_a_reassigned_factory_leaves_the_former_owners_scope(world):
    world["own"].owner = world["rep2"]
    db.session.flush()
    assert world["own"].id not in visible(world["rep"])
    assert world["own"].id in visible(world["rep2"])


def test_a_belt_that_moves_takes_its_factories_to_the_new_teams_manager(world):
    world["other_team"].belt.team = world["team_a"]
    db.session.flush()
    assert world["other_team"].id in visible(world["manager"])


def test_role_actions_follow_the_table():
    rep, manager = builders.User(role="rep"), builders.User(role="manager")
    assert scope.may(rep, "log_visit") and not scope.may(rep, "waive_required_task")
    assert scope.may(manager, "decide_stage_change")
    with pytest.raises(NotAllowed):
        scope.require(rep, "reassign")
    assert not scope.may(builders.User(role="factory"), "log_visit")
    assert scope.may(builders.User(role="factory"), "hand_in_evidence")


def test_each_role_works_in_the_belts_of_its_scope(db_session):
    team, other_team = builders.team(), builders.team()
    ours, theirs = builders.belt(team), builders.belt(other_team)
    factory = builders.factory(ours)
    users = {
        "rep": builders.user("rep", team_=team),
        "manager": builders.user("manager", leads=[other_team]),
        "admin": builders.user("admin"),
        "factory": builders.user("factory", factory=factory),
    }

    def seen(role: str) -> set[int]:
        found = set(db.session.scalars(scope.belts(users[role]).with_only_columns(Belt.id)))
        return found & {ours.id, theirs.id}

    assert seen("rep") == {ours.id}
    assert seen("manager") == {theirs.id}
    assert seen("admin") == {ours.id, theirs.id}
    assert seen("factory") == set()
