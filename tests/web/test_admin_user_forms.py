"""Admin forms that fit the role: a new user's role is chosen, never defaulted; each role's own
fields (a factory found by search, not typed as a number); a deactivation is confirmed first and
then says what moved."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from crm.models import Factory, FollowUp, User
from crm.services.accounts import auth
from tests import builders
from tests.web.helpers import csrf_token


@pytest.fixture
def world(db_session):
    team = builders.team("East team")
    belt = builders.belt(team)
    admin = builders.user("admin")
    rep = builders.user("rep", team_=team)
    rep.name = "Leaving Rep"
    taker = builders.user("rep", team_=team)
    taker.name = "Taking Rep"
    lotus = builders.factory(belt, owner=rep, name="Lotus Shoes")
    builders.factory(belt, owner=rep, name="Lotus Bags")
    builders.factory(belt, name="Pine Hardware")
    builders.follow_up(lotus, rep, datetime(2026, 12, 10, 2, 0, tzinfo=UTC))
    auth.start_session(admin, "test", "127.0.0.1")
    db_session.commit()
    return {"team": team, "admin": admin, "rep": rep, "taker": taker, "lotus": lotus}


@pytest.fixture
def admin_client(app, world):
    return app.test_client(user=world["admin"])


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/"), **data})


def count_users(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(User))


def test_a_new_user_has_no_role_until_the_admin_chooses_one(admin_client, db_session):
    page = admin_client.get("/admin/users/new").get_data(as_text=True)
    role = page.split('id="role"', 1)[1].split("</select>", 1)[0]
    assert '<option selected value="">Choose a role</option>' in role or (
        '<option value="">Choose a role</option>' in role and "selected" not in role
    )
    before = count_users(db_session)
    data = {"name": "Sun Yi", "email": "sun@example.test", "team_id": ""}
    response = post(admin_client, "/admin/users/new", data)
    assert response.status_code == 422
    assert "Choose a role." in response.get_data(as_text=True)
    assert count_users(db_session) == before


def test_the_form_groups_each_roles_own_fields_and_a_script_shows_only_the_chosen(
    admin_client, world
):
    page = admin_client.get("/admin/users/new").get_data(as_text=True)
    for role in ("rep", "manager", "factory"):
        assert f'data-role-fields="{role}"' in page
    assert "Factory id" not in page and 'name="factory_search"' in page
    rep_page = admin_client.get(f"/admin/users/{world['rep'].id}").get_data(as_text=True)
    assert 'data-role-fields="rep"' in rep_page
    assert 'data-role-fields="factory"' not in rep_page
    assert 'data-role-fields="manager"' not in rep_page


def test_a_factory_user_gets_their_factory_by_search(admin_client, world, db_session):
    data = {"role": "factory", "name": "Owner Wu", "email": "wu@example.test"}
    response = post(admin_client, "/admin/users/new", {**data, "factory_search": "Lotus Sh"})
    assert response.status_code == 303
    user = db_session.scalar(select(User).where(User.name == "Owner Wu"))
    assert user.factory_id == world["lotus"].id


def test_a_search_that_finds_several_factories_lists_them_to_choose(
    admin_client, world, db_session
):
    data = {"role": "factory", "name": "Owner Ma", "email": "ma@example.test"}
    several = post(admin_client, "/admin/users/new", {**data, "factory_search": "Lotus"})
    page = several.get_data(as_text=True)
    assert several.status_code == 422
    assert "Several factories match: choose one below." in page
    assert page.count('type="radio" name="factory_id"') == 2
    assert "Lotus Bags" in page and "Lotus Shoes" in page and "Pine" not in page
    chosen = post(
        admin_client,
        "/admin/users/new",
        {**data, "factory_search": "Lotus", "factory_id": str(world["lotus"].id)},
    )
    assert chosen.status_code == 303
    user = db_session.scalar(select(User).where(User.name == "Owner Ma"))
    assert user.factory_id == world["lotus"].id


def test_a_search_that_finds_no_factory_says_so_by_the_field(admin_client, db_session):
    before = count_users(db_session)
    data = {"role": "factory", "name": "Owner Qi", "email": "qi@example.test"}
    response = post(admin_client, "/admin/users/new", {**data, "factory_search": "Nothing"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.escape("No factory matches this") in page and 'id="factory_search-error"' in page
    assert count_users(db_session) == before


def test_a_deactivation_asks_first_then_says_what_moved(admin_client, world, db_session):
    rep, taker = world["rep"], world["taker"]
    path = f"/admin/users/{rep.id}/deactivate"
    asked = post(admin_client, path, {"to_rep": str(taker.id)})
    page = asked.get_data(as_text=True)
    assert asked.status_code == 200
    assert 'id="deactivate-confirm"' in page and "2 factories to Taking Rep" in page
    assert "2 factories, 1 open follow-up" in page
    assert 'name="confirmed" value="1"' in page
    db_session.expire_all()
    assert db_session.get(User, rep.id).active  # nothing changed yet
    assert db_session.scalar(select(func.count()).where(Factory.owner_id == rep.id)) == 2
    done = post(admin_client, path, {"to_rep": str(taker.id), "confirmed": "1"})
    assert done.status_code == 303
    told = admin_client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Handed over: 2 factories, 1 open follow-up, 0 open tasks." in told
    db_session.expire_all()
    assert not db_session.get(User, rep.id).active
    assert db_session.scalar(select(func.count()).where(Factory.owner_id == taker.id)) == 2
    assert db_session.scalar(select(FollowUp.assignee_id)) == taker.id


def test_a_factory_users_factory_stays_unless_the_admin_searches_another(
    admin_client, world, db_session
):
    owner = builders.user("factory", factory=world["lotus"])
    db_session.commit()
    page = admin_client.get(f"/admin/users/{owner.id}").get_data(as_text=True)
    assert "Factory now: Lotus Shoes." in page
    kept = post(
        admin_client, f"/admin/users/{owner.id}", {"name": "Owner Lu", "email": owner.email}
    )
    assert kept.status_code == 303
    moved = post(
        admin_client,
        f"/admin/users/{owner.id}",
        {"name": "Owner Lu", "email": owner.email, "factory_search": "Pine"},
    )
    assert moved.status_code == 303
    db_session.expire_all()
    assert db_session.get(User, owner.id).factory.name == "Pine Hardware"


def test_a_search_that_finds_many_factories_lists_the_first_and_asks_for_more(
    admin_client, world, db_session
):
    belt = world["lotus"].belt
    for n in range(11):
        builders.factory(belt, name=f"Lotus Works {n:02d}")
    db_session.commit()
    data = {"role": "factory", "name": "Owner He", "email": "he@example.test"}
    page = post(admin_client, "/admin/users/new", {**data, "factory_search": "Lotus"}).get_data(
        as_text=True
    )
    assert page.count('type="radio" name="factory_id"') == 10
    assert "More factories match: type more of the name to narrow the list." in page
