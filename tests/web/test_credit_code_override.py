"""An admin records a credit code that fails only its check characters (codes issued before
GB 32100, as in Xiamen's pilot) with a reason: audited, shown on the factory page, and then
good for signing the prospect into stage 1. Nobody else may; the shape rules still hold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Factory
from crm.services.accounts import api_tokens
from crm.services.factories import credit_code
from tests import builders
from tests.web.helpers import sign_in
from tests.web.test_factory_edits import edit_data, field_error, fresh, post, text_of

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
REASON = "Issued in Xiamen's pilot before the national standard; as printed on the licence."


def pilot_code(n: int) -> str:
    """A code of Xiamen (350200) whose 18th character is not the one the standard computes."""
    organisation = f"M{n:07d}"
    first17 = f"91350200{organisation}{credit_code.organisation_check(organisation)}"
    right = credit_code.check_digit(first17)
    return first17 + next(char for char in credit_code.ALPHABET if char != right)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    prospect = builders.factory(belt, owner=rep, status="prospect", name="Xiamen Bags")
    prospect.credit_code = None
    records = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "admin": builders.user("admin"),
        "prospect": prospect,
    }
    db_session.commit()
    return records


def record_override(client, factory: Factory, code: str, reason: str = REASON):
    return post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(
            factory,
            belt_id=str(factory.belt_id),
            credit_code=code,
            credit_code_override_reason=reason,
        ),
    )


def test_admin_records_a_code_failing_its_check_digit_with_a_reason_and_it_is_audited(
    client, world
):
    factory, admin, code = world["prospect"], world["admin"], pilot_code(1)
    sign_in(client, admin.email)
    page = text_of(client.get(f"/factories/{factory.id}/edit"))
    assert 'name="credit_code_override_reason"' in page
    response = record_override(client, factory, code)
    assert response.status_code == 303
    saved = fresh(factory)
    assert (saved.credit_code, saved.credit_code_override_reason) == (code, REASON)
    assert (saved.credit_code_override_by_id, saved.credit_code_override_at) == (admin.id, NOW)
    entry = db.session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_id == factory.id, AuditEntry.actor_id == admin.id
        )
    )
    assert entry.action == "update"
    assert entry.changes["credit_code"] == [None, code]
    assert entry.changes["credit_code_override_reason"] == [None, REASON]


def test_the_factory_page_shows_staff_that_an_admin_recorded_the_code(client, world):
    factory = world["prospect"]
    sign_in(client, world["admin"].email)
    assert record_override(client, factory, pilot_code(2)).status_code == 303
    post(client, "/logout")
    sign_in(client, world["rep"].email)
    page = text_of(client.get(f"/factories/{factory.id}"))
    assert f"Credit code recorded by an admin: {REASON}" in page
    assert pilot_code(2) in page and world["admin"].name in page


def test_a_reason_is_required_and_refused_by_its_field(client, world):
    factory = world["prospect"]
    sign_in(client, world["admin"].email)
    response = record_override(client, factory, pilot_code(3), reason="  ")
    assert response.status_code == 422
    assert "say why" in field_error(response, "credit_code_override_reason")
    assert "check digit" in field_error(response, "credit_code")
    saved = fresh(factory)
    assert (saved.credit_code, saved.credit_code_override_reason) == (None, None)


def test_the_shape_rules_still_hold_under_an_override(client, world):
    factory = world["prospect"]
    first17 = "94350200M00000044"  # category 4 under department 9, check characters right
    sign_in(client, world["admin"].email)
    response = record_override(client, factory, first17 + credit_code.check_digit(first17))
    assert response.status_code == 422
    assert "kind of organisation" in field_error(response, "credit_code")
    assert fresh(factory).credit_code is None


def test_a_manager_may_not_override(client, world):
    factory = world["prospect"]
    sign_in(client, world["manager"].email)
    page = text_of(client.get(f"/factories/{factory.id}/edit"))
    assert 'name="credit_code_override_reason"' not in page
    response = record_override(client, factory, pilot_code(4))
    assert response.status_code == 403
    without_reason = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(factory, belt_id=str(factory.belt_id), credit_code=pilot_code(4)),
    )
    assert without_reason.status_code == 422
    assert "check digit" in field_error(without_reason, "credit_code")
    assert fresh(factory).credit_code is None


def test_the_recorded_code_lets_the_manager_sign_the_prospect_into_stage_1(client, world):
    factory = world["prospect"]
    sign_in(client, world["admin"].email)
    assert record_override(client, factory, pilot_code(5)).status_code == 303
    post(client, "/logout")
    sign_in(client, world["manager"].email)
    # A manager's later save of the page (no reason field on it) keeps the admin's record.
    kept = post(
        client,
        f"/factories/{factory.id}/edit",
        edit_data(
            fresh(factory),
            name="Xiamen Bags Co.",
            belt_id=str(factory.belt_id),
            credit_code=pilot_code(5),
        ),
    )
    assert kept.status_code == 303
    assert fresh(factory).credit_code_override_reason == REASON
    signed = post(
        client,
        f"/factories/{factory.id}/stage-change",
        {"form": "promote", "promote-to_status": "active", "promote-to_stage": "elementary"},
    )
    assert signed.status_code == 303
    saved = fresh(factory)
    assert (saved.status, saved.stage) == ("active", "elementary")


def test_a_new_valid_code_ends_the_override(client, world):
    factory = world["prospect"]
    sign_in(client, world["admin"].email)
    assert record_override(client, factory, pilot_code(6)).status_code == 303
    valid = builders.credit_code(990201)
    assert record_override(client, fresh(factory), valid).status_code == 303
    saved = fresh(factory)
    assert (saved.credit_code, saved.credit_code_override_reason) == (valid, None)
    assert saved.credit_code_override_by_id is None and saved.credit_code_override_at is None


# --- the API -----------------------------------------------------------------------------


def bearer(user) -> dict:
    token = api_tokens.create(user, "override", None).secret
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_the_api_takes_an_admins_override_and_refuses_anyone_elses(client, world):
    factory = world["prospect"]
    path = f"/api/v1/factories/{factory.id}"
    body = {"credit_code": pilot_code(7), "credit_code_override_reason": REASON}
    refused = client.patch(path, json=body, headers=bearer(world["manager"]))
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    admin = bearer(world["admin"])
    missing = client.patch(path, json={"credit_code": pilot_code(7)}, headers=admin)
    assert missing.status_code == 422
    assert set(missing.get_json()["error"]["fields"]) == {
        "credit_code",
        "credit_code_override_reason",
    }
    assert fresh(factory).credit_code is None
    recorded = client.patch(path, json=body, headers=admin)
    assert recorded.status_code == 200
    assert recorded.get_json()["credit_code_override_reason"] == REASON
    assert fresh(factory).credit_code == pilot_code(7)
