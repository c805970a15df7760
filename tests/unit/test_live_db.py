"""The live database is emptied between browser tests, all but the seeded catalogue."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.models import Factory, FollowUp, Metric, StageDefinition, User
from tests import builders
from tests.live import empty_database


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_emptying_clears_cycles_and_keeps_the_catalogue(live_db):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep)
    merged = builders.factory(factory.belt, owner=rep)
    merged.merged_into_id = factory.id
    builders.user("factory", factory=factory)  # users.factory_id closes a cycle with owner_id
    builders.follow_up(factory, rep, factory.stage_entered_at)
    live_db.commit()
    catalogue = (count(live_db, Metric), count(live_db, StageDefinition))

    empty_database()

    assert [count(live_db, model) for model in (User, Factory, FollowUp)] == [0, 0, 0]
    assert (count(live_db, Metric), count(live_db, StageDefinition)) == catalogue
    assert catalogue[0] > 0 and catalogue[1] > 0
