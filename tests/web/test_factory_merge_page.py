"""Merging a duplicate from the factory page (issue 22, point 4): the likely duplicates, the
confirmation of what moves, the merge; the old address redirects for those who see the kept
factory and is 404 for others; a visit the outbox addressed to the old factory lands on the kept
one; refusals by the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Factory, FactoryMerge, Visit
from tests import builders
from tests.web.helpers import csrf_token
from tests.web.test_visits import fields, post_api, signed_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    kept = builders.factory(belt, owner=rep, name="永康市宏翔门业有限公司", lat=29.87, lng=121.54)
    twin = builders.factory(belt, owner=rep, name="宏翔门业", lat=29.87, lng=121.54)
    builders.visit(twin, rep, checked_in_at=NOW - timedelta(days=3))
    far = builders.factory(builders.belt(other_team), name="Far away")
    people = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "stranger": builders.user("manager", leads=[other_team]),
    }
    db_session.commit()
    return {"kept": kept, "twin": twin, "far": far, **people}


def test_a_manager_finds_the_duplicate_confirms_and_merges(app, world):
    kept, twin = world["kept"], world["twin"]
    client = signed_in(app, world["manager"])
    page = client.get(f"/factories/{kept.id}/merge").get_data(as_text=True)
    assert "宏翔门业" in page and f"other={twin.id}" in page  # a likely duplicate, by its name
    confirm = client.get(f"/factories/{kept.id}/merge?other={twin.id}").get_data(as_text=True)
    assert "1 visit" in confirm and "Merge into" in confirm
    token = csrf_token(client, f"/factories/{kept.id}/merge?other={twin.id}")
    twin_id = twin.id
    done = client.post(
        f"/factories/{kept.id}/merge", data={"other_id": twin_id, "csrf_token": token}
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/factories/{kept.id}")
    db.session.expire_all()
    assert db.session.get(Factory, twin_id) is None
    assert (
        db.session.scalar(
            select(func.count()).select_from(Visit).where(Visit.factory_id == kept.id)
        )
        == 1
    )
    # The old address opens the kept factory for whoever sees it; for others it does not exist.
    moved = client.get(f"/factories/{twin_id}")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/factories/{kept.id}")
    assert signed_in(app, world["stranger"]).get(f"/factories/{twin_id}").status_code == 404
    # Merging it again says where it went, and changes nothing.
    far = world["far"]
    token = csrf_token(client, f"/factories/{kept.id}/merge")
    again = client.post(
        f"/factories/{kept.id}/merge", data={"other_id": twin_id, "csrf_token": token}
    )
    assert again.status_code == 422
    assert "merged into 永康市宏翔门业有限公司 already" in again.get_data(as_text=True)
    assert db.session.get(Factory, far.id) is not None


def test_a_visit_the_outbox_addressed_to_the_merged_factory_lands_on_the_kept_one(app, world):
    kept, twin = world["kept"], world["twin"]
    twin_id = twin.id
    manager = signed_in(app, world["manager"])
    token = csrf_token(manager, f"/factories/{kept.id}/merge")
    manager.post(f"/factories/{kept.id}/merge", data={"other_id": twin_id, "csrf_token": token})
    assert db.session.scalar(select(func.count()).select_from(FactoryMerge)) == 1
    phone = signed_in(app, world["rep"])
    sent = post_api(phone, fields(kept, factory_id=str(twin_id)))
    assert sent.status_code == 201, sent.get_json()
    again = post_api(phone, fields(kept, factory_id=str(twin_id)))
    assert again.status_code == 200  # the same visit, not a conflict
    visit = db.session.get(Visit, sent.get_json()["visit"]["id"])
    assert visit.factory_id == kept.id


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ("kept", "cannot be merged with itself"),
        ("far", "Choose one of the factories you may merge"),
        ("text", "Choose a record from the list"),
    ],
)
def test_a_merge_that_cannot_be_is_refused_by_the_field(app, world, other, message):
    kept = world["kept"]
    client = signed_in(app, world["manager"])
    token = csrf_token(client, f"/factories/{kept.id}/merge")
    value = "twelve" if other == "text" else world[other].id
    answer = client.post(
        f"/factories/{kept.id}/merge", data={"other_id": value, "csrf_token": token}
    )
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(FactoryMerge)) == 0


def test_a_rep_cannot_merge(app, world):
    client = signed_in(app, world["rep"])
    assert client.get(f"/factories/{world['kept'].id}/merge").status_code == 403


def test_a_belt_s_likely_duplicates_are_listed_in_pairs_to_merge(app, world):
    belt = world["kept"].belt
    rep = world["rep"]
    one = builders.factory(belt, owner=rep, name="东阳市同和木业", lat=29.2, lng=120.2)
    two = builders.factory(belt, owner=rep, name="金华市利民五金", lat=29.1, lng=120.1)
    builders.contact(one, "周", "139 1234 5678")
    builders.contact(two, "吴", "13912345678")
    builders.factory(belt, owner=rep, name="Alone Ltd", lat=28.0, lng=119.0)
    db.session.commit()
    client = signed_in(app, world["manager"])
    page = client.get(f"/factories/duplicates?belt={belt.id}").get_data(as_text=True)
    merges = re.findall(r"/factories/(\d+)/merge\?other=(\d+)", page)
    pairs = {frozenset(map(int, pair)) for pair in merges}
    assert pairs == {
        frozenset({world["kept"].id, world["twin"].id}),  # the core of the name (and the place)
        frozenset({one.id, two.id}),  # a contact's phone, however written
    }
    assert "similar name" in page and "same phone" in page
    # Another team's manager lists only their own belts; a rep cannot open the page.
    other = signed_in(app, world["stranger"]).get(f"/factories/duplicates?belt={belt.id}")
    assert other.status_code == 200 and "永康市宏翔门业有限公司" not in other.get_data(as_text=True)
    assert signed_in(app, rep).get("/factories/duplicates").status_code == 403
