"""A prospect added in the street (issue 27): the phone's form, the duplicates listed with links
before saving, "Save anyway", a same code refused, the outbox's exactly once, and the links from
Today and My factories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Contact, Factory
from crm.services.accounts import auth
from tests import builders
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
KEY = "key-prospect-0123456789"


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
    elsewhere = builders.factory(other_belt, name="远方五金厂")
    db_session.commit()
    return {
        "belt": belt,
        "rep": rep,
        "hongxiang": hongxiang,
        "elsewhere": elsewhere,
        "manager": builders.user("manager", leads=[team]),
    }


def client_of(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def post(client, fields: dict, *, key: str | None = None, as_json: bool = False):
    token = csrf_token(client, "/factories/new")
    if as_json:
        headers = {"Idempotency-Key": key, "X-CSRFToken": token, "Accept": "application/json"}
        return client.post("/factories/new", data=fields, headers=headers)
    data = {"csrf_token": token, **fields}
    if key:
        data["client_key"] = key
    return client.post("/factories/new", data=data)


def count(name: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Factory).where(Factory.name == name))


def fields(world, **more) -> dict:
    return {
        "name": "金华新华文具",
        "contact_name": "张三",
        "contact_phone": "138 1234 5678",
        "category": "文具",
        "belt_id": str(world["belt"].id),
        "lat": "29.1",
        "lng": "119.6",
        **more,
    }


def test_today_and_my_factories_link_to_the_form(app, world):
    client = client_of(app, world["rep"])
    for page in ("/today", "/factories/"):
        assert 'href="/factories/new"' in client.get(page).get_data(as_text=True)
    form = client.get("/factories/new")
    assert form.status_code == 200
    body = form.get_data(as_text=True)
    assert 'action="/factories/new"' in body and "Save prospect" in body


def test_a_prospect_without_duplicates_is_saved_and_owned_by_the_rep(app, world):
    client = client_of(app, world["rep"])
    answer = post(client, fields(world))
    assert answer.status_code == 303
    factory = db.session.scalar(select(Factory).where(Factory.name == "金华新华文具"))
    assert answer.location.endswith(f"/factories/{factory.id}")
    assert factory.owner_id == world["rep"].id and factory.status == "prospect"
    assert (factory.lat, factory.lng, factory.category) == (29.1, 119.6, "文具")
    assert factory.credit_code is None
    contact = db.session.scalar(select(Contact).where(Contact.factory_id == factory.id))
    assert (contact.name, contact.phone_digits) == ("张三", "13812345678")


def test_duplicates_are_listed_with_links_then_saved_anyway(app, world):
    client = client_of(app, world["rep"])
    sent = fields(world, name="永康宏翔门业厂", contact_phone="+86 131-7921-6444")
    first = post(client, sent)
    assert first.status_code == 409
    body = first.get_data(as_text=True)
    assert f'href="/factories/{world["hongxiang"].id}"' in body
    assert 'name="save_anyway" value="1"' in body
    assert count("永康宏翔门业厂") == 0
    second = post(client, {**sent, "save_anyway": "1"})
    assert second.status_code == 303
    assert count("永康宏翔门业厂") == 1


def test_a_same_code_is_refused_even_saved_anyway_and_out_of_scope_has_no_name(app, world):
    client = client_of(app, world["rep"])
    code = world["elsewhere"].credit_code
    answer = post(client, fields(world, credit_code=code, save_anyway="1"))
    assert answer.status_code == 422
    body = answer.get_data(as_text=True)
    assert "exists outside your scope" in body
    assert "远方五金厂" not in body and f'/factories/{world["elsewhere"].id}"' not in body
    assert count("金华新华文具") == 0


def test_the_duplicate_list_names_only_what_is_in_scope(app, world):
    client = client_of(app, world["rep"])
    found = client.get(
        "/factories/new/duplicates",
        query_string={"name": "远方五金", "contact_phone": "13179216444"},
    )
    assert found.status_code == 200
    body = found.get_data(as_text=True)
    assert f'href="/factories/{world["hongxiang"].id}"' in body
    assert "exists outside your scope" in body and "远方" not in body


def test_the_outbox_saves_a_prospect_exactly_once(app, world):
    client = client_of(app, world["rep"])
    first = post(client, fields(world), key=KEY, as_json=True)
    assert first.status_code == 200 and first.json["kind"] == "prospect_add"
    again = post(client, fields(world), key=KEY, as_json=True)
    assert again.json["repeat"] is True and again.json["location"] == first.json["location"]
    assert count("金华新华文具") == 1


def test_the_outbox_hears_duplicates_by_field_and_the_key_stays_free(app, world):
    client = client_of(app, world["rep"])
    sent = fields(world, name="永康宏翔门业", contact_phone="13179216444")
    refused = post(client, sent, key=KEY, as_json=True)
    assert refused.status_code == 409
    error = refused.json["error"]
    assert "永康宏翔门业有限公司" in error["fields"]["name"]
    assert "永康宏翔门业有限公司" in error["fields"]["contact_phone"]
    saved = post(client, {**sent, "save_anyway": "1"}, key=KEY, as_json=True)
    assert saved.status_code == 200
    assert count("永康宏翔门业") == 1


def test_a_refused_field_comes_back_by_its_name(app, world):
    client = client_of(app, world["rep"])
    refused = post(client, fields(world, name="", lat="91"), key=KEY, as_json=True)
    assert refused.status_code == 422
    assert set(refused.json["error"]["fields"]) >= {"name"}
    nothing = post(client, fields(world, lat="95"), key=KEY, as_json=True)
    assert nothing.status_code == 422 and "lat" in nothing.json["error"]["fields"]


def test_a_manager_adds_an_unowned_prospect(app, world):
    client = client_of(app, world["manager"])
    assert post(client, fields(world)).status_code == 303
    factory = db.session.scalar(select(Factory).where(Factory.name == "金华新华文具"))
    assert factory.owner_id is None and factory.belt_id == world["belt"].id


def test_the_api_warns_of_the_same_name_created_twice(client, world, db_session):
    from crm.services.accounts import api_tokens

    secret = api_tokens.create(world["rep"], "phone", None).secret
    db_session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"name": "金华新华文具", "belt_id": world["belt"].id}
    first = client.post("/api/v1/factories", json=body, headers=headers)
    assert first.status_code == 201 and first.json["duplicates"] == []
    second = client.post("/api/v1/factories", json=body, headers=headers)
    assert second.status_code == 201
    (warning,) = second.json["duplicates"]
    assert warning["factory_id"] == first.json["id"] and warning["reasons"] == ["name"]
    assert warning["name"] == "金华新华文具" and warning["outside_scope"] is False
    hidden = client.post("/api/v1/factories", json={**body, "name": "远方五金"}, headers=headers)
    (outside,) = hidden.json["duplicates"]
    assert outside == {
        "factory_id": None,
        "name": None,
        "outside_scope": True,
        "reasons": ["name"],
        "distance_m": None,
        "message": "A factory like this exists outside your scope.",
    }


def test_the_factory_edit_warns_of_likely_duplicates(app, world):
    twin = builders.factory(world["belt"], owner=world["rep"], name="别的厂")
    db.session.commit()
    client = client_of(app, world["rep"])
    token = csrf_token(client, f"/factories/{twin.id}/edit")
    answer = client.post(
        f"/factories/{twin.id}/edit",
        data={"csrf_token": token, "name": "永康宏翔门业厂", "lat": "28.9005", "lng": "120.03"},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert "Saved the factory&#39;s details." in body or "Saved the factory's details." in body
    assert "永康宏翔门业有限公司" in body and "may be in the CRM already" in body


def test_the_import_warns_per_line_of_likely_duplicates_and_imports_them(app, world):
    import io

    client = client_of(app, world["manager"])
    belt = world["belt"]
    code_new, code_phone = builders.credit_code(9101), builders.credit_code(9102)
    rows = (
        "credit_code,name,belt,contact_name,contact_phone\r\n"
        f"{code_new},永康 宏翔门业 有限责任公司,{belt.code},王,\r\n"
        f"{code_phone},别的工厂,{belt.code},李,+86 131-7921-6444\r\n"
        f"{builders.credit_code(9103)},远方五金,{belt.code},,\r\n"
    )
    token = csrf_token(client, "/imports/")
    uploaded = client.post(
        "/imports/",
        data={
            "csrf_token": token,
            "kind": "factories",
            "file": (io.BytesIO(rows.encode()), "f.csv"),
        },
        content_type="multipart/form-data",
    )
    run_path = uploaded.headers["Location"]
    run_id = int(run_path.rstrip("/").rsplit("/", 1)[-1])
    checked = client.post(
        f"/imports/{run_id}/check",
        data={
            "csrf_token": token,
            "column_0": "credit_code",
            "column_1": "name",
            "column_2": "belt",
            "column_3": "contact_name",
            "column_4": "contact_phone",
        },
    )
    assert checked.status_code == 303
    page = client.get(f"/imports/{run_id}").get_data(as_text=True)
    assert "Every row is good" in page
    assert "Line 2, name: 永康宏翔门业有限公司 has a similar name." in page
    assert "Line 3, contact_phone: 永康宏翔门业有限公司 has a contact with this phone." in page
    assert "Line 4, name: A factory like this exists outside your scope." in page
    assert "远方五金厂" not in page
    done = client.post(f"/imports/{run_id}/confirm", data={"csrf_token": token})
    assert done.status_code == 303
    assert count("别的工厂") == 1 and count("远方五金") == 1


def test_the_map_around_the_place_draws_the_pin_and_the_factories_near(app, world):
    client = client_of(app, world["rep"])
    drawn = client.get("/factories/new/map", query_string={"lat": "28.9005", "lng": "120.03"})
    assert drawn.status_code == 200
    body = drawn.get_data(as_text=True)
    assert 'class="field-map-here"' in body and "永康宏翔门业有限公司" in body
    assert client.get("/factories/new/map", query_string={"lat": "x"}).status_code == 422
