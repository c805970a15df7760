"""A rep's and a manager's changes to one factory: claiming, contacts, editing its details."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select, update

from crm import scope
from crm.errors import Conflict, Invalid, NotAllowed, NotFound
from crm.extensions import db
from crm.models import AuditEntry, Contact, Factory
from crm.services.factories import edits as factories
from crm.services.factories import prospects
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
DAY = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    return {
        "belt": belt,
        "other_belt": other_belt,
        "rep": rep,
        "rep2": builders.user("rep", team_=team),
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "manager_other": builders.user("manager", leads=[other_team]),
        "admin": builders.user("admin"),
        "prospect": builders.factory(belt, status="prospect", name="Prospect Tools"),
        "own": builders.factory(belt, owner=rep, name="Hengda Hardware"),
    }


def audits(record_type: str, record_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == record_type, AuditEntry.record_id == record_id)
            .order_by(AuditEntry.id)
        )
    )


def refused(error: pytest.ExceptionInfo) -> dict[str, str]:
    return {name: str(message) for name, message in error.value.fields.items()}


# --- claiming a prospect ----------------------------------------------------------------------


def test_rep_claims_an_unowned_prospect_of_their_teams_belt(world):
    prospect = world["prospect"]
    assert prospects.can_claim(world["rep"], prospect)
    prospects.claim(world["rep"], prospect, NOW)
    assert prospect.owner_id == world["rep"].id
    entry = audits("factory", prospect.id)[-1]
    assert (entry.action, entry.actor_id) == ("claim", world["rep"].id)
    assert entry.changes == {"owner_id": [None, world["rep"].id]}
    # It is the rep's own now, and no longer anyone else's to claim.
    assert not prospects.can_claim(world["rep2"], prospect)
    with pytest.raises(NotFound):
        scope.get_factory(world["rep2"], prospect.id, DAY)


def test_a_rep_of_another_team_cannot_reach_the_prospect_nor_claim_it(world):
    prospect, outsider = world["prospect"], world["rep_other_team"]
    with pytest.raises(NotFound):
        scope.get_factory(outsider, prospect.id, DAY)
    assert not prospects.can_claim(outsider, prospect)
    with pytest.raises(NotFound):
        prospects.claim(outsider, prospect, NOW)
    assert prospect.owner_id is None


def test_an_owned_prospect_is_refused_and_keeps_its_rep(world):
    prospect = builders.factory(world["belt"], status="prospect", owner=world["rep2"])
    with pytest.raises(Conflict):
        prospects.claim(world["rep"], prospect, NOW)
    assert prospect.owner_id == world["rep2"].id


def test_an_active_factory_is_not_claimed(world):
    unowned_active = builders.factory(world["belt"], name="Unowned active")
    with pytest.raises(Conflict):
        prospects.claim(world["rep"], unowned_active, NOW)
    assert unowned_active.owner_id is None


def test_a_claim_made_meanwhile_by_another_rep_is_never_overwritten(world):
    """The session still holds the prospect as unowned; the row says otherwise."""
    prospect = world["prospect"]
    db.session.execute(
        update(Factory)
        .where(Factory.id == prospect.id)
        .values(owner_id=world["rep2"].id)
        .execution_options(synchronize_session=False)
    )
    assert prospect.owner_id is None  # what this request loaded before the other claim
    with pytest.raises(Conflict, match="Another rep claimed"):
        prospects.claim(world["rep"], prospect, NOW)
    owner = db.session.scalar(select(Factory.owner_id).where(Factory.id == prospect.id))
    assert owner == world["rep2"].id
    assert audits("factory", prospect.id) == []


def test_only_field_staff_claim_a_prospect(world):
    for actor in (world["manager"], world["admin"]):
        assert not prospects.can_claim(actor, world["prospect"])
        with pytest.raises(NotAllowed):
            prospects.claim(actor, world["prospect"], NOW)
    factory_user = builders.user("factory", factory=world["own"])
    with pytest.raises(NotAllowed):
        prospects.claim(factory_user, world["prospect"], NOW)
    assert world["prospect"].owner_id is None


@pytest.mark.postgres_only
def test_two_reps_claiming_at_once_leave_one_owner(app, live_db):
    team = builders.team()
    belt = builders.belt(team)
    reps = [builders.user("rep", team_=team) for _ in range(2)]
    prospect = builders.factory(belt, status="prospect")
    live_db.commit()
    prospect_id, rep_ids = prospect.id, [rep.id for rep in reps]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(rep_id: int) -> None:
        try:
            with app.app_context():
                record = db.session.get(Factory, prospect_id)
                actor = db.session.get(type(reps[0]), rep_id)
                barrier.wait(timeout=10)
                prospects.claim(actor, record, NOW)
                db.session.commit()
                outcomes.append("claimed")
        except Conflict:
            outcomes.append("refused")
        except BaseException as error:  # reported below, not lost in the thread
            outcomes.append(repr(error))

    threads = [threading.Thread(target=claim, args=(rep_id,)) for rep_id in rep_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["claimed", "refused"]
    owner = live_db.scalar(select(Factory.owner_id).where(Factory.id == prospect_id))
    assert owner in rep_ids


# --- contacts ----------------------------------------------------------------------------


def test_a_contact_keeps_the_phone_as_typed_and_its_digits(world):
    contact = factories.add_contact(
        world["rep"],
        world["own"],
        name=" 王丽 ",
        role="老板",
        phone="+86 138-1234-5678",
        wechat_id="wangli_88",
        now=NOW,
    )
    assert (contact.name, contact.role) == ("王丽", "老板")
    assert (contact.phone, contact.phone_digits) == ("+86 138-1234-5678", "13812345678")
    assert contact.wechat_id == "wangli_88"
    assert contact in world["own"].contacts
    entry = audits("contact", contact.id)[-1]
    assert entry.action == "create"
    assert set(entry.personal_fields) == {"name", "phone", "wechat_id"}


def test_a_contact_needs_only_a_name(world):
    contact = factories.add_contact(world["rep"], world["own"], name="Li Wei", now=NOW)
    assert (contact.phone, contact.phone_digits, contact.wechat_id) == ("", "", "")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Li", "phone": "1234"}, "phone"),
        ({"name": "Li", "phone": "1" * 21}, "phone"),
        ({"name": "Li", "phone": "call me"}, "phone"),
        ({"name": "Li", "wechat_id": "wang li"}, "wechat_id"),
        ({"name": "Li", "role": "r" * 61}, "role"),
    ],
)
def test_a_refused_contact_says_which_field_and_adds_nothing(world, fields, field):
    with pytest.raises(Invalid) as error:
        factories.add_contact(world["rep"], world["own"], now=NOW, **fields)
    assert field in refused(error)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_a_phone_of_five_to_twenty_digits_is_accepted(world):
    for phone in ("12345", "1" * 20):
        contact = factories.add_contact(world["rep"], world["own"], name="Li", phone=phone, now=NOW)
        assert contact.phone_digits == phone


def test_a_factory_user_adds_no_contacts(world):
    factory_user = builders.user("factory", factory=world["own"])
    with pytest.raises(NotAllowed):
        factories.add_contact(factory_user, world["own"], name="Li", now=NOW)


# --- editing a factory's details ------------------------------------------------------------


def test_rep_edits_the_details_and_the_audit_keeps_before_and_after(world):
    factory = world["own"]
    factories.update_factory(
        world["rep"],
        factory,
        {
            "name": "Hengda Hardware Co.",
            "category": "stainless cups",
            "address": "金山西路88号",
            "shop_url": "https://hengda.1688.com/",
            "lat": "28.9",
            "lng": "120.03",
        },
        NOW,
    )
    assert (factory.name, factory.category, factory.lat, factory.lng) == (
        "Hengda Hardware Co.",
        "stainless cups",
        28.9,
        120.03,
    )
    entry = audits("factory", factory.id)[-1]
    assert entry.action == "update"
    assert entry.changes["name"] == ["Hengda Hardware", "Hengda Hardware Co."]
    assert entry.changes["shop_url"] == ["", "https://hengda.1688.com/"]
    # A position is never copied into the audit log, only that it changed.
    assert "lat" not in entry.changes and "lng" not in entry.changes
    assert entry.changes["location"] == [None, "changed"]
    assert "28.9" not in str(entry.changes)


def test_saving_unchanged_details_writes_no_audit_entry(world):
    factory = world["own"]
    factories.update_factory(world["rep"], factory, {"name": factory.name}, NOW)
    assert audits("factory", factory.id) == []


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "n" * 201}, "name"),
        ({"shop_url": "ftp://hengda.example/"}, "shop_url"),
        ({"shop_url": "javascript:alert(1)"}, "shop_url"),
        ({"shop_url": "hengda.1688.com"}, "shop_url"),
        ({"lat": "29.8", "lng": ""}, "lng"),
        ({"lat": "", "lng": "121.5"}, "lat"),
        ({"lat": "91", "lng": "121.5"}, "lat"),
        ({"lat": "29.8", "lng": "-181"}, "lng"),
        ({"lat": "north", "lng": "121.5"}, "lat"),
        ({"lat": "nan", "lng": "121.5"}, "lat"),
        ({"address": "a" * 301}, "address"),
    ],
)
def test_refused_details_say_which_field_and_change_nothing(world, values, field):
    factory = world["own"]
    with pytest.raises(Invalid) as error:
        factories.update_factory(world["rep"], factory, values, NOW)
    assert field in refused(error)
    assert (factory.name, factory.shop_url, factory.lat) == ("Hengda Hardware", "", None)


def test_both_coordinates_may_be_cleared_together(world):
    factory = builders.factory(world["belt"], owner=world["rep"], lat=29.1, lng=120.1)
    factories.update_factory(world["rep"], factory, {"lat": "", "lng": ""}, NOW)
    assert (factory.lat, factory.lng) == (None, None)


def test_a_rep_may_not_change_the_belt_credit_code_or_key_account(world):
    factory, rep = world["own"], world["rep"]
    code = factory.credit_code
    for values in (
        {"credit_code": builders.credit_code(990001)},
        {"belt_id": world["other_belt"].id},
        {"is_key_account": True},
    ):
        with pytest.raises(NotAllowed):
            factories.update_factory(rep, factory, values, NOW)
    assert (factory.credit_code, factory.belt_id, factory.is_key_account) == (
        code,
        world["belt"].id,
        False,
    )
    # Sending back what is stored (a form that shows them) is no change, and is fine.
    factories.update_factory(
        rep, factory, {"credit_code": code.lower(), "belt_id": str(factory.belt_id)}, NOW
    )


def test_manager_changes_credit_code_key_account_and_belt_within_their_belts(world):
    factory, manager = world["own"], world["manager"]
    second_belt = builders.belt(world["manager"].led_teams[0])
    new_code = builders.credit_code(990002)
    factories.update_factory(
        manager,
        factory,
        {"credit_code": new_code.lower(), "is_key_account": True, "belt_id": second_belt.id},
        NOW,
    )
    assert (factory.credit_code, factory.is_key_account, factory.belt_id) == (
        new_code,
        True,
        second_belt.id,
    )
    assert factory.belt is second_belt
    entry = audits("factory", factory.id)[-1]
    assert entry.changes["is_key_account"] == [False, True]
    assert entry.changes["credit_code"][1] == new_code


def test_manager_cannot_move_a_factory_to_a_belt_they_do_not_lead(world):
    with pytest.raises(Invalid) as error:
        factories.update_factory(
            world["manager"], world["own"], {"belt_id": world["other_belt"].id}, NOW
        )
    assert "belt_id" in refused(error)


def test_admin_moves_a_factory_to_any_belt(world):
    factories.update_factory(world["admin"], world["own"], {"belt_id": world["other_belt"].id}, NOW)
    assert world["own"].belt_id == world["other_belt"].id


def test_a_credit_code_with_a_wrong_check_digit_is_refused(world):
    code = builders.credit_code(990003)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    with pytest.raises(Invalid) as error:
        factories.update_factory(world["manager"], world["own"], {"credit_code": wrong}, NOW)
    assert "check digit" in refused(error)["credit_code"]


def test_a_taken_credit_code_out_of_scope_says_only_that_it_exists(world):
    hidden = builders.factory(
        world["other_belt"], owner=world["rep_other_team"], name="Secret Mill"
    )
    with pytest.raises(Invalid) as error:
        factories.update_factory(
            world["manager"], world["own"], {"credit_code": hidden.credit_code}, NOW
        )
    message = refused(error)["credit_code"]
    assert "exists outside your scope" in message
    assert "Secret Mill" not in message


def test_a_taken_credit_code_in_scope_names_the_factory(world):
    other = builders.factory(world["belt"], owner=world["rep2"], name="Jinsheng Trading")
    with pytest.raises(Invalid) as error:
        factories.update_factory(
            world["manager"], world["own"], {"credit_code": other.credit_code}, NOW
        )
    assert "Jinsheng Trading" in refused(error)["credit_code"]


def test_only_a_prospect_may_be_left_without_a_credit_code(world):
    with pytest.raises(Invalid):
        factories.update_factory(world["manager"], world["own"], {"credit_code": ""}, NOW)
    factories.update_factory(world["manager"], world["prospect"], {"credit_code": " "}, NOW)
    assert world["prospect"].credit_code is None


def test_a_factory_user_edits_nothing(world):
    factory_user = builders.user("factory", factory=world["own"])
    with pytest.raises(NotAllowed):
        factories.update_factory(factory_user, world["own"], {"name": "Mine now"}, NOW)
    assert world["own"].name == "Hengda Hardware"
