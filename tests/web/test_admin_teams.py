"""The admin's teams and belts: a moved belt leaves the former manager's scope on the next
request, its stray owners are listed for the new managers; refusals change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.models import AuditEntry, Belt, Notification, Team
from crm.services.accounts import auth
from tests import builders
from tests.web.helpers import csrf_token

BELT = {
    "code": "yiwu-commodities",
    "name_zh": "义乌小商品",
    "name_en": "Yiwu small commodities",
    "city_zh": "义乌市",
    "city_en": "Yiwu",
    "province_zh": "浙江省",
    "province_en": "Zhejiang",
    "category_zh": "小商品",
    "category_en": "Small commodities",
    "lat": "29.31",
    "lng": "120.07",
}


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    return app.test_client(user=user)


@pytest.fixture
def world(db_session):
    east, west = builders.team("East"), builders.team("West")
    belt = builders.belt(east)
    east_rep = builders.user("rep", team_=east)
    world = {
        "east": east,
        "west": west,
        "belt": belt,
        "east_rep": east_rep,
        "west_rep": builders.user("rep", team_=west),
        "east_manager": builders.user("manager", leads=[east]),
        "west_manager": builders.user("manager", leads=[west]),
        "admin": builders.user("admin"),
        "factory": builders.factory(belt, owner=east_rep, name="Moving Hardware"),
    }
    db_session.commit()
    return world


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/"), **data})


def belt_form(belt: Belt, **changes) -> dict:
    data = {name: str(getattr(belt, name)) for name in BELT}
    data["team_id"] = str(belt.team_id or "")
    return {**data, **changes}


def test_a_moved_belt_leaves_the_former_managers_scope_on_the_next_request(app, world, db_session):
    former = signed_in(app, world["east_manager"])
    new = signed_in(app, world["west_manager"])
    admin = signed_in(app, world["admin"])
    db_session.commit()
    path = f"/factories/{world['factory'].id}"
    assert former.get(path).status_code == 200
    assert new.get(path).status_code == 404
    moved = post(
        admin,
        f"/admin/belts/{world['belt'].id}",
        belt_form(world["belt"], team_id=str(world["west"].id)),
    )
    assert moved.status_code == 303
    assert former.get(path).status_code == 404
    assert new.get(path).status_code == 200
    # The owner is not in the new team: listed on the belt's and the team's pages, and told.
    for page in (f"/admin/belts/{world['belt'].id}", f"/admin/teams/{world['west'].id}"):
        text = admin.get(page).get_data(as_text=True)
        assert "Owners outside the team" in text and "Moving Hardware" in text
    told = db_session.scalars(select(Notification).where(Notification.kind == "belt_moved")).all()
    assert [item.user_id for item in told] == [world["west_manager"].id]
    entry = db_session.scalar(
        select(AuditEntry).where(AuditEntry.record_type == "belt", AuditEntry.action == "update")
    )
    assert entry.changes == {"team_id": [world["east"].id, world["west"].id]}


def test_a_belt_moved_on_the_team_page_moves_scope_too(app, world, db_session):
    former = signed_in(app, world["east_manager"])
    admin = signed_in(app, world["admin"])
    db_session.commit()
    path = f"/factories/{world['factory'].id}"
    response = admin.post(
        f"/admin/teams/{world['west'].id}",
        data={
            "name": "West",
            "manager_ids": [str(world["west_manager"].id)],
            "rep_ids": [str(world["west_rep"].id)],
            "belt_ids": [str(world["belt"].id)],
            "csrf_token": csrf_token(admin, "/admin/"),
        },
    )
    assert response.status_code == 303
    assert former.get(path).status_code == 404
    db_session.expire_all()
    assert db_session.get(Belt, world["belt"].id).team_id == world["west"].id


def test_an_admin_creates_a_belt_and_a_team(app, world, db_session):
    admin = signed_in(app, world["admin"])
    db_session.commit()
    assert post(admin, "/admin/belts/new", BELT).status_code == 303
    belt = db_session.scalar(select(Belt).where(Belt.code == "yiwu-commodities"))
    assert (belt.name_zh, belt.lat, belt.team_id) == ("义乌小商品", 29.31, None)
    response = admin.post(
        "/admin/teams/new",
        data={
            "name": "Yiwu",
            "manager_ids": [str(world["west_manager"].id)],
            "rep_ids": [str(world["east_rep"].id)],
            "belt_ids": [str(belt.id)],
            "csrf_token": csrf_token(admin, "/admin/"),
        },
    )
    assert response.status_code == 303
    team = db_session.scalar(select(Team).where(Team.name == "Yiwu"))
    assert [m.id for m in team.managers] == [world["west_manager"].id]
    assert [r.id for r in team.reps] == [world["east_rep"].id]
    assert [b.id for b in team.belts] == [belt.id]
    assert db_session.scalar(
        select(AuditEntry).where(AuditEntry.record_type == "team", AuditEntry.action == "create")
    )


def test_a_team_without_a_manager_is_refused_and_nothing_changes(app, world, db_session):
    admin = signed_in(app, world["admin"])
    db_session.commit()
    before = db_session.scalar(select(func.count()).select_from(Team))
    response = post(admin, "/admin/teams/new", {"name": "Nobody leads"})
    assert response.status_code == 422
    assert "A team needs at least one manager." in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Team)) == before
    edit = post(admin, f"/admin/teams/{world['east'].id}", {"name": "East"})
    assert edit.status_code == 422
    db_session.expire_all()
    assert [m.id for m in db_session.get(Team, world["east"].id).managers] == [
        world["east_manager"].id
    ]


def test_a_belt_name_of_500_characters_gets_a_field_message_and_changes_nothing(
    app, world, db_session
):
    admin = signed_in(app, world["admin"])
    db_session.commit()
    response = post(
        admin, f"/admin/belts/{world['belt'].id}", belt_form(world["belt"], name_en="x" * 500)
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="name_en-error"' in page and "at most 100 characters" in page
    db_session.expire_all()
    assert db_session.get(Belt, world["belt"].id).name_en == world["belt"].name_en
    new = post(admin, "/admin/belts/new", {**BELT, "name_zh": "长" * 500})
    assert new.status_code == 422
    assert db_session.scalar(select(Belt).where(Belt.code == BELT["code"])) is None


def test_a_taken_belt_code_is_refused_by_its_field(app, world, db_session):
    admin = signed_in(app, world["admin"])
    db_session.commit()
    response = post(admin, "/admin/belts/new", {**BELT, "code": world["belt"].code})
    assert response.status_code == 422 and "Another belt has this code." in response.get_data(
        as_text=True
    )
