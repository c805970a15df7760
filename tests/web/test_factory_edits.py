"""The factory page's rep actions through the browser's forms: claim, add a contact, edit."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry, Contact, Factory
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    own = builders.factory(belt, owner=rep, stage="junior", name="Hengda Hardware")
    records = {
        "belt": belt,
        "other_belt": other_belt,
        "rep": rep,
        "rep2": builders.user("rep", team_=team),
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "own": own,
        "prospect": builders.factory(belt, status="prospect", name="Prospect Tools"),
        "factory_user": builders.user("factory", factory=own),
    }
    db_session.commit()
    return records


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, data: dict | None = None):
    token = csrf_token(client, "/account/")
    return client.post(path, data={"csrf_token": token, **(data or {})})


def field_error(response, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', text_of(response))
    return match.group(1) if match else ""


def fresh(factory: Factory) -> Factory:
    db.session.expire_all()
    return db.session.get(Factory, factory.id)


def contact_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Contact)) or 0


# --- claiming a prospect ---------------------------------------------------------------------


def test_rep_claims_a_prospect_from_its_page_and_it_is_theirs(client, world):
    prospect, rep = world["prospect"], world["rep"]
    sign_in(client, rep.email)
    page = text_of(client.get(f"/factories/{prospect.id}"))
    assert "Claim this prospect" in page
    response = post(client, f"/factories/{prospect.id}/claim")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{prospect.id}"
    assert fresh(prospect).owner_id == rep.id
    page = text_of(client.get(response.headers["Location"]))
    assert "Prospect Tools is yours now." in page
    assert "Claim this prospect" not in page


def test_a_claim_from_the_list_goes_back_to_the_list_never_elsewhere(client, world):
    sign_in(client, world["rep"].email)
    response = post(client, f"/factories/{world['prospect'].id}/claim", {"next": "/factories/?q=t"})
    assert response.headers["Location"] == "/factories/?q=t"
    other = builders.factory(world["belt"], status="prospect")
    db.session.commit()
    response = post(client, f"/factories/{other.id}/claim", {"next": "https://evil.example/"})
    assert response.headers["Location"] == f"/factories/{other.id}"


def test_claiming_an_owned_factory_is_refused_with_409_and_changes_nothing(client, world):
    sign_in(client, world["rep"].email)
    response = post(client, f"/factories/{world['own'].id}/claim")
    assert response.status_code == 409
    assert "has a rep already" in text_of(response)
    assert fresh(world["own"]).owner_id == world["rep"].id
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_rep_of_another_team_gets_404_when_claiming(client, world):
    sign_in(client, world["rep_other_team"].email)
    assert post(client, f"/factories/{world['prospect'].id}/claim").status_code == 404
    assert fresh(world["prospect"]).owner_id is None


def test_a_manager_assigns_rather_than_claims(client, world):
    sign_in(client, world["manager"].email)
    page = text_of(client.get(f"/factories/{world['prospect'].id}"))
    assert "Claim this prospect" not in page
    assert post(client, f"/factories/{world['prospect'].id}/claim").status_code == 403
    assert fresh(world["prospect"]).owner_id is None


# --- adding a contact ------------------------------------------------------------------------


def test_rep_adds_a_contact_that_shows_with_tap_to_call(client, world):
    factory = world["own"]
    sign_in(client, world["rep"].email)
    response = post(
        client,
        f"/factories/{factory.id}/contacts",
        {
            "contact-name": "王丽",
            "contact-role": "老板",
            "contact-phone": "138 1234 5678",
            "contact-wechat_id": "wangli88",
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{factory.id}#reach"
    page = text_of(client.get(f"/factories/{factory.id}"))
    assert "Contact added: 王丽." in page
    assert 'href="tel:13812345678"' in page
    assert "WeChat wangli88" in page


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"contact-name": ""}, "contact-name", "Enter the contact's name."),
        (
            {"contact-name": "Li", "contact-phone": "1234"},
            "contact-phone",
            "A phone number has 5 to 20 digits; this one has 4.",
        ),
        (
            {"contact-name": "Li", "contact-phone": "ask at the gate"},
            "contact-phone",
            "Type the number with digits",
        ),
    ],
)
def test_a_refused_contact_comes_back_with_422_and_its_message(client, world, data, field, words):
    factory = world["own"]
    sign_in(client, world["rep"].email)
    response = post(client, f"/factories/{factory.id}/contacts", data)
    assert response.status_code == 422
    assert words in field_error(response, field)
    assert '<details class="fp-fold fe-contact" id="add-contact" open>' in text_of(response)
    assert contact_count() == 0


# --- editing the factory ---------------------------------------------------------------------


def edit_data(factory: Factory, **changes) -> dict:
    data = {
        "name": factory.name,
        "category": factory.category,
        "address": factory.address,
        "shop_url": factory.shop_url,
        "lat": "",
        "lng": "",
    }
    data.update(changes)
    return data


def test_rep_sees_the_details_form_without_the_managers_fields(client, world):
    sign_in(client, world["rep"].email)
    response = client.get(f"/factories/{world['own'].id}/edit")
    page = text_of(response)
    assert response.status_code == 200
    assert 'value="Hengda Hardware"' in page
    assert 'name="credit_code"' not in page and 'name="belt_id"' not in page
    assert 'name="is_key_account"' not in page
    assert "changed by your manager" in page


def test_rep_edits_the_details_and_the_change_is_audited(client, world):
    factory = world["own"]
    sign_in(client, world["rep"].email)
    response = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(
            factory,
            name="Hengda Hardware Co.",
            address="永康市金山西路88号",
            shop_url="https://hengda.1688.com",
            lat="28.9",
            lng="120.03",
        ),
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{factory.id}"
    saved = fresh(factory)
    assert (saved.name, saved.address, saved.lat, saved.lng) == (
        "Hengda Hardware Co.",
        "永康市金山西路88号",
        28.9,
        120.03,
    )
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
    assert entry.changes["name"] == ["Hengda Hardware", "Hengda Hardware Co."]
    page = text_of(client.get(response.headers["Location"]))
    assert "Saved the factory's details." in page
    assert 'href="https://hengda.1688.com" rel="noopener noreferrer"' in page


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": ""}, "name", "Enter the factory's name."),
        ({"shop_url": "ftp://hengda.example"}, "shop_url", "starting with https:// or http://"),
        ({"lat": "29.8"}, "lng", "Enter both latitude and longitude"),
        ({"lat": "95", "lng": "120"}, "lat", "Enter a number from -90 to 90"),
    ],
)
def test_refused_details_come_back_with_422_and_change_nothing(
    client, world, changes, field, words
):
    factory = world["own"]
    sign_in(client, world["rep"].email)
    response = post(client, f"/factories/{factory.id}/edit", edit_data(factory, **changes))
    assert response.status_code == 422
    assert words in field_error(response, field)
    assert "Not saved: correct the fields marked below." in text_of(response)
    saved = fresh(factory)
    assert (saved.name, saved.shop_url, saved.lat) == ("Hengda Hardware", "", None)


def test_a_reps_post_of_belt_credit_code_or_key_account_is_ignored(client, world):
    """The rep's form has no such fields: posted anyway, they are ignored and nothing changes."""
    factory = world["own"]
    code = factory.credit_code
    sign_in(client, world["rep"].email)
    response = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(
            factory,
            credit_code=builders.credit_code(990010),
            belt_id=str(world["other_belt"].id),
            is_key_account="y",
        ),
    )
    assert response.status_code == 303
    saved = fresh(factory)
    assert (saved.credit_code, saved.belt_id, saved.is_key_account) == (
        code,
        world["belt"].id,
        False,
    )


def test_manager_changes_the_credit_code_and_key_account(client, world):
    factory = world["own"]
    new_code = builders.credit_code(990011)
    sign_in(client, world["manager"].email)
    page = text_of(client.get(f"/factories/{factory.id}/edit"))
    assert 'name="credit_code"' in page and 'name="belt_id"' in page
    response = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(
            factory,
            belt_id=str(factory.belt_id),
            credit_code=new_code.lower(),
            is_key_account="y",
        ),
    )
    assert response.status_code == 303
    saved = fresh(factory)
    assert (saved.credit_code, saved.is_key_account) == (new_code, True)


def test_a_credit_code_taken_outside_the_managers_scope_says_only_that(client, world):
    factory = world["own"]
    hidden = builders.factory(world["other_belt"], name="Secret Mill")
    db.session.commit()
    sign_in(client, world["manager"].email)
    response = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(factory, belt_id=str(factory.belt_id), credit_code=hidden.credit_code),
    )
    assert response.status_code == 422
    message = field_error(response, "credit_code")
    assert "exists outside your scope" in message
    assert "Secret Mill" not in text_of(response)


# --- scope -------------------------------------------------------------------------------------


ROUTES = [
    ("GET", "/edit"),
    ("POST", "/edit"),
    ("POST", "/contacts"),
    ("POST", "/claim"),
]


@pytest.mark.parametrize(("method", "suffix"), ROUTES)
@pytest.mark.parametrize("position", ["rep2", "rep_other_team", "factory_user"])
def test_out_of_scope_and_factory_users_get_404_and_nothing_changes(
    client, world, method, suffix, position
):
    factory = world["own"]
    sign_in(client, world[position].email)
    path = f"/factories/{factory.id}{suffix}"
    data = {"name": "Taken over", "contact-name": "Someone"}
    response = client.get(path) if method == "GET" else post(client, path, data)
    assert response.status_code == 404
    saved = fresh(factory)
    assert (saved.name, saved.owner_id) == ("Hengda Hardware", world["rep"].id)
    assert contact_count() == 0
