"""Likely duplicates of a factory (issue 27): the same code, the same phone in any format, a
similar name once suffixes, spaces and full width are set aside, a position within 100 m; one
outside the user's scope says only that it exists."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Contact, Factory
from crm.services.factories import prospects
from crm.services.trust import duplicates
from crm.services.trust.duplicates import Candidate
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)
# 0.001 degree of latitude is about 111 m.
METRE = 1 / 111_195


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    hongxiang = builders.factory(belt, owner=rep, name="永康宏翔门业有限公司", lat=28.9, lng=120.03)
    builders.contact(hongxiang, name="孙丽", phone="131 7921 6444")
    elsewhere = builders.factory(other_belt, name="远方五金厂", lat=30.0, lng=121.0)
    builders.contact(elsewhere, name="李强", phone="139 0000 1111")
    return {
        "belt": belt,
        "rep": rep,
        "hongxiang": hongxiang,
        "elsewhere": elsewhere,
        "other_rep": builders.user("rep", team_=other_team),
    }


@pytest.mark.parametrize(
    ("first", "second", "alike"),
    [
        ("永康宏翔门业有限公司", "永康宏翔门业", True),
        ("永康宏翔门业有限责任公司", "永康宏翔门业厂", True),
        ("永康宏翔门业股份有限公司", "永康 宏翔 门业", True),
        ("ＨＯＮＧＸＩＡＮＧ　Ｄｏｏｒｓ", "Hongxiang Doors Co., Ltd.", True),
        ("宏翔（永康）门业", "宏翔(永康)门业厂", True),
        ("宁波宏翔门业有限公司", "宏翔门业", True),
        ("永康宏翔门业", "永康宏达门业", False),
        ("门业厂", "永康门业有限公司", False),
        ("", "永康宏翔门业", False),
    ],
)
def test_similar_names_once_suffixes_spaces_and_full_width_go(first, second, alike):
    assert duplicates.similar_names(first, second) is alike


def test_name_key_drops_suffixes_spaces_and_full_width():
    assert duplicates.name_key("永康 宏翔门业 有限责任公司") == "永康宏翔门业"
    assert duplicates.name_key("ＡＢＣ　五金厂") == "abc五金"


def reasons(found, factory):
    return [d.reasons for d in found if d.factory is factory]


@pytest.mark.parametrize(
    "name", ["永康宏翔门业", "永康宏翔门业厂", "永康 宏翔门业 有限责任公司", "永康宏翔门业制品厂"]
)
def test_a_similar_name_in_scope_is_found(world, name):
    found = duplicates.find(world["rep"], Candidate(name=name, belt_id=world["belt"].id), DAY)
    assert reasons(found, world["hongxiang"]) == [["name"]]


@pytest.mark.parametrize(
    "phone", ["131 7921 6444", "13179216444", "+86 131-7921-6444", "0086 13179216444"]
)
def test_the_same_phone_in_any_format_is_found(world, phone):
    found = duplicates.find(world["rep"], Candidate(name="别的名字", phones=(phone,)), DAY)
    assert reasons(found, world["hongxiang"]) == [["phone"]]


def test_a_factory_90_m_away_is_found_and_150_m_is_not(world):
    base = world["hongxiang"]
    near = duplicates.find(
        world["rep"], Candidate(name="别的", lat=base.lat + 90 * METRE, lng=base.lng), DAY
    )
    assert reasons(near, base) == [["nearby"]]
    assert 85 < near[0].distance_m < 95
    far = duplicates.find(
        world["rep"], Candidate(name="别的", lat=base.lat + 150 * METRE, lng=base.lng), DAY
    )
    assert far == []


def test_a_different_factory_is_no_duplicate(world):
    found = duplicates.find(
        world["rep"],
        Candidate(name="金华新华文具", phones=("138 1234 5678",), lat=29.1, lng=119.6),
        DAY,
    )
    assert found == []


def test_a_duplicate_outside_the_scope_shows_no_name(world):
    found = duplicates.find(
        world["rep"],
        Candidate(
            name="远方五金", phones=("13900001111",), credit_code=world["elsewhere"].credit_code
        ),
        DAY,
    )
    assert len(found) == 1
    assert found[0].outside_scope and found[0].factory is None
    assert found[0].reasons == ["credit_code", "phone", "name"]
    assert "远方" not in duplicates.describe(found[0])
    assert duplicates.describe(found[0]) == "A factory like this exists outside your scope."


def test_the_factory_itself_is_no_duplicate_of_its_edit(world):
    base = world["hongxiang"]
    candidate = Candidate(name=base.name, lat=base.lat, lng=base.lng, exclude_id=base.id)
    assert duplicates.find(world["rep"], candidate, DAY) == []


def test_a_same_code_out_of_scope_is_refused_and_said_so(world):
    with pytest.raises(Invalid) as error:
        prospects.add_prospect(
            world["rep"],
            {
                "name": "新厂",
                "belt_id": world["belt"].id,
                "credit_code": world["elsewhere"].credit_code,
            },
            now=NOW,
        )
    assert error.value.fields["credit_code"] == (
        "A factory with this credit code exists outside your scope."
    )


def test_duplicates_stop_the_first_save_until_save_anyway(world):
    values = {"name": "永康宏翔门业厂", "belt_id": world["belt"].id}
    with pytest.raises(Conflict) as error:
        prospects.add_prospect(
            world["rep"], values, contact_name="王", contact_phone="13179216444", now=NOW
        )
    assert "永康宏翔门业有限公司" in error.value.fields["name"]
    assert "永康宏翔门业有限公司" in error.value.fields["contact_phone"]
    added = prospects.add_prospect(
        world["rep"],
        values,
        contact_name="王",
        contact_phone="13179216444",
        save_anyway=True,
        now=NOW,
    )
    assert added.factory.owner_id == world["rep"].id
    assert added.factory.status == "prospect" and added.factory.credit_code is None
    assert [d.factory for d in added.duplicates] == [world["hongxiang"]]
    contact = db.session.query(Contact).filter_by(factory_id=added.factory.id).one()
    assert contact.phone_digits == "13179216444"


def test_a_prospect_without_duplicates_is_saved_at_once(world):
    added = prospects.add_prospect(
        world["rep"],
        {"name": "金华新华文具", "belt_id": world["belt"].id, "lat": 29.1, "lng": 119.6},
        contact_name="张三",
        contact_phone="138 1234 5678",
        now=NOW,
    )
    assert db.session.get(Factory, added.factory.id).owner_id == world["rep"].id
    assert added.duplicates == []


def test_a_phone_without_a_name_is_refused_by_its_field(world):
    with pytest.raises(Invalid) as error:
        prospects.add_prospect(
            world["rep"],
            {"name": "金华新华文具", "belt_id": world["belt"].id},
            contact_phone="138 1234 5678",
            now=NOW,
        )
    assert set(error.value.fields) == {"contact_name"}


def test_the_nearest_belt_is_preselected(world):
    far = builders.belt(world["belt"].team)
    far.lat, far.lng = 28.9, 120.03
    db.session.flush()
    assert prospects.nearest_belt_id(world["rep"], 28.901, 120.031) == far.id
    assert prospects.nearest_belt_id(world["rep"], 29.87, 121.55) == world["belt"].id
