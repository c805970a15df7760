"""Every kind of change to a factory moves its `updated_at`, which the API's sync
(`GET /api/v1/factories?updated_since=`) pages by: a change that left it would never be synced."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import update

from crm.extensions import db
from crm.jobs import daily
from crm.models import Factory
from crm.services.accounts import teams
from crm.services.factories import edits, prospects, reassign
from crm.services.field import followups, visits
from crm.services.growth import promotions, snapshots
from tests import builders

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    with time_machine.travel(NOW, tick=True):
        team, other_team = builders.team(), builders.team()
        belt = builders.belt(team)
        rep, rep2 = builders.user("rep", team_=team), builders.user("rep", team_=team)
        yield {
            "team": team,
            "other_team": other_team,
            "belt": belt,
            "rep": rep,
            "rep2": rep2,
            "manager": builders.user("manager", leads=[team]),
            "admin": builders.user("admin"),
            "factory": builders.factory(belt, owner=rep, stage="elementary"),
            "prospect": builders.factory(belt, status="prospect"),
        }


def _visit(world: dict, factory: Factory) -> None:
    sent = visits.Submission(
        client_key="updated-at-visit-1",
        purpose="follow_up",
        checked_in_at=NOW - timedelta(minutes=5),
        lat=29.0,
        lng=120.0,
        accuracy_m=10,
        position_at=NOW - timedelta(minutes=5),
    )
    visits.log_visit(world["rep"], factory, sent, NOW)


def _belt_moves(world: dict, factory: Factory) -> None:
    belt = world["belt"]
    values = {name: getattr(belt, name) for name in teams.BELT_FIELDS}
    values["team_id"] = world["other_team"].id
    teams.save_belt(world["admin"], belt, values)


def _sweep(world: dict, factory: Factory) -> None:
    for _counts in daily.sweep_cadence(db.session, NOW):
        pass


CHANGES: dict[str, Callable[[dict, Factory], object]] = {
    "its details": lambda w, f: edits.update_factory(w["manager"], f, {"name": "Renamed"}, NOW),
    "a new owner": lambda w, f: reassign.reassign(w["manager"], [f], w["rep2"], NOW),
    "the key-account flag": lambda w, f: reassign.set_key_account(w["manager"], [f], True, NOW),
    "its status": lambda w, f: promotions.change_directly(
        w["manager"], f, "paused", f.stage, "Closed for the holiday", False, NOW
    ),
    "its stage": lambda w, f: promotions.change_directly(
        w["manager"], f, "active", "junior", "Ready early", True, NOW
    ),
    "a planned follow-up": lambda w, f: followups.schedule(
        w["rep"], f, date(2026, 12, 20), "Call back", NOW
    ),
    "a visit (its last visit and location)": _visit,
    "its eligibility (a figure)": lambda w, f: snapshots.record_snapshot(
        w["rep"], f, "response_3min_rate", date(2026, 11, 1), "90", NOW
    ),
    "the cadence sweep's follow-up (in bulk)": _sweep,
    "its belt moving to another team": _belt_moves,
    "its belt's new name": lambda w, f: teams.save_belt(
        w["admin"],
        w["belt"],
        {**{name: getattr(w["belt"], name) for name in teams.BELT_FIELDS}, "name_en": "Renamed"},
    ),
    "its belt given to another team": lambda w, f: teams.save_team(
        w["admin"],
        w["other_team"],
        teams.TeamValues(
            name=w["other_team"].name,
            manager_ids=[builders.user("manager").id],
            belt_ids=[w["belt"].id],
        ),
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_kind_of_change_moves_updated_at(world, change):
    factory = world["factory"]
    db.session.execute(
        update(Factory)
        .where(Factory.id.in_([factory.id, world["prospect"].id]))
        .values(updated_at=LONG_AGO)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    with time_machine.travel(NOW, tick=True):
        CHANGES[change](world, factory)
        db.session.flush()
    db.session.expire_all()
    assert db.session.get(Factory, factory.id).updated_at >= NOW


def test_claiming_a_prospect_moves_its_updated_at(world):
    prospect = world["prospect"]
    db.session.execute(
        update(Factory)
        .where(Factory.id == prospect.id)
        .values(updated_at=LONG_AGO)
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    prospects.claim(world["rep"], db.session.get(Factory, prospect.id), NOW)
    db.session.flush()
    db.session.expire_all()
    assert db.session.get(Factory, prospect.id).updated_at >= NOW
