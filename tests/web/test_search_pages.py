"""The search box in the header and its results page (issue 27, point 1): for staff only,
within scope, grouped, the match marked and escaped, bad input answered with a message."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry, Contact, Factory
from tests import builders
from tests.web.matrix import POSITIONS, SEES_A, signed_in_client


def client_of(app, user):
    client = signed_in_client(app, user)
    db.session.commit()
    return client


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(
        belt, owner=rep, name="永康宏翔门业有限公司", address="浙江省金华市永康市五金大道88号"
    )
    builders.contact(factory, name="孙丽", phone="131 7921 6444")
    hostile = builders.factory(belt, owner=rep, name="<b>永康</b>&<script>x</script>")
    db_session.commit()
    return {"rep": rep, "factory": factory, "hostile": hostile, "team": team}


def test_staff_have_the_search_box_in_the_header_and_factory_users_do_not(app, world):
    rep_page = client_of(app, world["rep"]).get("/today").get_data(as_text=True)
    assert 'role="search"' in rep_page and 'action="/search"' in rep_page
    owner = builders.user("factory", factory=world["factory"])
    db.session.commit()
    client = client_of(app, owner)
    assert 'action="/search"' not in client.get("/portal/").get_data(as_text=True)
    assert client.get("/search?q=hongxiang").status_code == 404
    assert client.get("/search/box?q=hongxiang").status_code == 404


def test_the_results_page_groups_factories_and_contacts_and_marks_the_match(app, world):
    client = client_of(app, world["rep"])
    page = client.get("/search?q=hongxiang").get_data(as_text=True)
    assert "永康<mark>宏翔</mark>门业有限公司" in page
    assert f'href="/factories/{world["factory"].id}"' in page
    page = client.get("/search?q=%2B86+131+7921+6444").get_data(as_text=True)
    assert "<mark>孙丽</mark>" not in page and "Contacts" in page
    assert "<mark>131</mark> <mark>7921</mark> <mark>6444</mark>" in page
    page = client.get("/search?q=孙丽").get_data(as_text=True)
    assert page.index("Contacts") and "<mark>孙丽</mark>" in page


def test_a_name_is_escaped_around_its_mark(app, world):
    page = client_of(app, world["rep"]).get("/search?q=永康").get_data(as_text=True)
    assert "&lt;b&gt;<mark>永康</mark>&lt;/b&gt;&amp;&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page


def test_the_box_answers_a_fragment_as_one_types(app, world):
    client = client_of(app, world["rep"])
    response = client.get("/search/box?q=hxmy", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert "<mark>宏翔门业</mark>" in fragment and "/search?q=hxmy" in fragment


def test_my_factories_search_goes_through_the_same_rule(app, world):
    page = client_of(app, world["rep"]).get("/factories/?q=ykhx").get_data(as_text=True)
    assert "永康宏翔门业有限公司" in page


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("x" * 1000, "Search for at most 100 characters."),
        ("!!!…？？", "Type part of a name, its pinyin or initials, or a phone number."),
        ("%_", "Type part of a name, its pinyin or initials, or a phone number."),
        ("a", "Type at least two letters or characters."),
        ("宏翔\x00", "Text may not hold a NUL character."),
    ],
)
def test_bad_input_gets_a_message_and_changes_nothing(app, world, typed, says):
    client = client_of(app, world["rep"])
    counts = [db.session.scalar(select(func.count()).select_from(m)) for m in (Factory, Contact)]
    audits = db.session.scalar(select(func.count()).select_from(AuditEntry))
    page = client.get("/search", query_string={"q": typed})
    assert page.status_code == 422
    assert says in page.get_data(as_text=True)
    box = client.get("/search/box", query_string={"q": typed}, headers={"HX-Request": "true"})
    assert box.status_code == 200 and says in box.get_data(as_text=True)
    after = [db.session.scalar(select(func.count()).select_from(m)) for m in (Factory, Contact)]
    assert after == counts
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_ten_thousand_characters_are_refused_before_the_search(app, world):
    client = client_of(app, world["rep"])
    response = client.get("/search", query_string={"q": "永" * 10_000})
    assert response.status_code in (414, 422)


def test_an_empty_query_shows_what_to_type(app, world):
    page = client_of(app, world["rep"]).get("/search").get_data(as_text=True)
    assert "pinyin (yongkang)" in page


# --- scope across the matrix's positions ----------------------------------------------------


def test_the_search_answers_each_position_of_the_matrix_within_its_scope(app, matrix_world):
    from tests.web.matrix import ROLE_OF

    factory_a = db.session.get(Factory, matrix_world.values["factory_id"])
    factory_a.name = "永康宏翔门业有限公司"
    contact = db.session.get(Contact, matrix_world.values["contact_id"])
    contact.phone = "131 7921 6444"
    db.session.commit()
    for position in POSITIONS:
        client = client_of(app, matrix_world.users[position])
        response = client.get("/search?q=hongxiang")
        phone = client.get("/search?q=13179216444")
        role = ROLE_OF[position]
        if role == "anonymous":
            assert response.status_code == 302 and "/login" in response.headers["Location"]
            continue
        if role == "factory":
            assert response.status_code == phone.status_code == 404, position
            continue
        page, phone_page = response.get_data(as_text=True), phone.get_data(as_text=True)
        sees = position in SEES_A
        assert ("永康<mark>宏翔</mark>门业" in page) is sees, position
        assert (f'href="/factories/{factory_a.id}"' in phone_page) is sees, position
