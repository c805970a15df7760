"""Erasure that keeps the record (issue 23, PIPL): an admin erases a deactivated user or a factory
contact; their name, phone, e-mail and WeChat id are gone from every text column of the schema,
their visits and tasks stay, and the audit log says who erased whom (never what)."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, select

from crm.extensions import db
from crm.models import (
    AuditEntry,
    Contact,
    Delivery,
    ImportRow,
    LoginAttempt,
    Task,
    User,
    UserSession,
    Visit,
)
from crm.services.accounts import auth
from crm.services.accounts import lifecycle as accounts
from crm.services.factories import edits
from crm.services.notices import mail, notifications
from crm.services.privacy import erasure, free_text
from tests import builders
from tests.web.helpers import csrf_token, sign_in

# Distinctive enough that nothing else in the schema holds them by chance.
USER_NAME = "Quillon Brackenridge"
USER_PHONE = "13912345678"
USER_EMAIL = "quillon.b@example.test"
CONTACT_NAME = "祁晓澜"
CONTACT_PHONE = "138 0013 8077"
CONTACT_DIGITS = "13800138077"
CONTACT_WECHAT = "qixiaolan_77"


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    return app.test_client(user=user)


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/"), **data})


def held_anywhere(*needles: str) -> list[str]:
    """Every (table.column: value) of the schema's text columns that holds one of the needles;
    JSON read both as stored and as its text."""
    found = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, db.String | JSON)]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)):
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                texts = [value] if isinstance(value, str) else []
                if not isinstance(value, str):
                    texts += [json.dumps(value), json.dumps(value, ensure_ascii=False)]
                for needle in needles:
                    if any(needle in text for text in texts):
                        found.append(f"{table.name}.{column.name}: {needle}")
    return found


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team)
    admin = builders.user("admin")
    manager = builders.user("manager", leads=[team])
    rep = builders.user("rep", team_=team, email="first.name@example.test")
    taker = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=taker)
    db_session.commit()
    return {
        "team": team,
        "belt": belt,
        "admin": admin,
        "manager": manager,
        "rep": rep,
        "taker": taker,
        "factory": factory,
    }


@pytest.fixture
def admin_client(app, world, db_session):
    client = signed_in(app, world["admin"])
    db_session.commit()
    return client


def plant_user(world, db_session) -> User:
    """The rep's name, phone and e-mail, landed where the app puts them: their account (and its
    audit entries), a visit's notes and summary, a follow-up's reason, a task's evidence note,
    a stage change's reason, a manager's notification with its e-mail, a failed login and a
    session; then the rep leaves (deactivated)."""
    rep, admin, factory = world["rep"], world["admin"], world["factory"]
    values = accounts.UserValues(
        role="rep", name=USER_NAME, email=USER_EMAIL, phone=USER_PHONE, team_id=world["team"].id
    )
    accounts.update_user(admin, rep, values)
    now = datetime.now(UTC)
    builders.visit(
        factory,
        rep,
        notes=f"Met with {USER_NAME}; call back on {USER_PHONE}",
        summary=f"{USER_NAME} showed the new line",
    )
    builders.follow_up(factory, rep, now + timedelta(days=3), reason=f"{USER_NAME} to call back")
    builders.task(factory, evidence_note=f"Checked by {USER_NAME}")
    builders.stage_change(factory, rep, admin, now, reason=f"Asked by {USER_NAME}")
    manager = world["manager"]
    made = notifications.notify(
        [manager],
        "follow_up_overdue",
        lambda: f"{USER_NAME} is late on a follow-up",
        factory=factory,
        body=lambda: f"Call {USER_NAME} at {USER_PHONE}",
    )
    own = notifications.notify([rep], "follow_up_overdue", lambda: "Your follow-up is late")
    db_session.flush()
    mail.queue(made, {manager.id: manager})
    mail.queue(own, {rep.id: rep})  # mailed to their own address
    db_session.add(LoginAttempt(login=USER_EMAIL, address="127.0.0.1"))
    auth.start_session(rep, "Phone of Quillon", "127.0.0.1")
    accounts.deactivate(admin, rep, now, to_rep=world["taker"])
    db_session.commit()
    return rep


def test_every_text_column_of_the_schema_is_placed_for_erasure():
    placed = {
        (table, column)
        for places in (
            free_text.FREE_TEXT,
            free_text.FREE_JSON,
            free_text.PERSON_FIELDS,
            free_text.KEPT,
        )
        for table, columns in places.items()
        for column in columns
    }
    assert sorted(set(free_text.text_columns()) - placed) == []
    assert sorted(placed - set(free_text.text_columns())) == []


def test_an_erased_user_is_in_no_text_column_and_their_visits_and_tasks_stay(
    app, admin_client, world, db_session
):
    rep = plant_user(world, db_session)
    assert held_anywhere(USER_NAME, USER_PHONE, USER_EMAIL)  # planted, for the scan to find
    visits = db_session.scalars(select(Visit.id).where(Visit.rep_id == rep.id)).all()
    tasks = db_session.scalars(select(Task.id)).all()

    page = admin_client.get(f"/admin/users/{rep.id}/erase").get_data(as_text=True)
    assert "What will change" in page and "1 audit entry" in page and "1 e-mail" in page
    response = post(admin_client, f"/admin/users/{rep.id}/erase", {"confirmation": USER_NAME})
    assert response.status_code == 303

    db_session.expire_all()
    assert held_anywhere(USER_NAME, USER_PHONE, USER_EMAIL) == []
    assert db_session.scalars(select(Visit.id).where(Visit.rep_id == rep.id)).all() == visits
    assert db_session.scalars(select(Task.id)).all() == tasks
    erased = db_session.get(User, rep.id)
    assert erased.name == erasure.FORMER_USER and erased.erased_at is not None
    assert not erased.active and erased.phone is None
    assert db_session.scalars(select(UserSession).where(UserSession.user_id == rep.id)).all() == []
    # Mail still waiting for them is not sent to the marker.
    assert "pending" not in {
        d.status for d in db_session.scalars(select(Delivery)) if d.target == free_text.MARKER
    }
    entry = db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "erase", AuditEntry.record_id == rep.id)
    )
    assert entry.actor_id == world["admin"].id and entry.record_type == "user"
    assert entry.changes["account"] == [None, 1] and entry.changes["audit_entries"][1] >= 1
    # The pages show a former user, in words.
    audit_page = admin_client.get(f"/admin/audit?record_type=user&record_id={rep.id}")
    text = audit_page.get_data(as_text=True)
    assert "a former user" in text and "[former user]" not in text
    assert "erased (personal data)" in text and "Audit entries" in text


def test_an_erased_user_never_signs_in_nor_comes_back(app, admin_client, world, db_session):
    rep = plant_user(world, db_session)
    post(admin_client, f"/admin/users/{rep.id}/erase", {"confirmation": USER_NAME})
    erased = db_session.get(User, rep.id)
    refused = sign_in(app.test_client(), erased.email, "anything-at-all-1")
    assert refused.status_code == 422
    back = post(admin_client, f"/admin/users/{rep.id}/reactivate", {})
    assert back.status_code == 422
    page = admin_client.get(f"/admin/users/{rep.id}").get_data(as_text=True)
    assert "nothing left to edit" in page and 'name="email"' not in page
    edited = post(admin_client, f"/admin/users/{rep.id}", {"name": USER_NAME, "email": USER_EMAIL})
    assert edited.status_code == 422
    db_session.expire_all()
    assert db_session.get(User, rep.id).name == erasure.FORMER_USER
    db_session.expire_all()
    assert not db_session.get(User, rep.id).active


def test_an_active_user_is_not_erased(admin_client, world, db_session):
    rep = world["rep"]
    page = admin_client.get(f"/admin/users/{rep.id}").get_data(as_text=True)
    assert "Only a deactivated user can be erased" in page
    response = post(admin_client, f"/admin/users/{rep.id}/erase", {"confirmation": rep.name})
    assert response.status_code == 422
    assert "Only a deactivated user can be erased" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, rep.id).erased_at is None
    assert db_session.get(User, rep.id).name.startswith("Rep")


def test_a_wrong_confirmation_is_refused_by_the_field_and_changes_nothing(
    admin_client, world, db_session
):
    rep = plant_user(world, db_session)
    response = post(admin_client, f"/admin/users/{rep.id}/erase", {"confirmation": "Quillon"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in page and "Type the name exactly as shown" in page
    db_session.expire_all()
    assert db_session.get(User, rep.id).name == USER_NAME
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "erase")) is None
    assert held_anywhere(USER_NAME)


@pytest.mark.parametrize("who", ["manager", "rep"])
def test_only_an_admin_erases(app, world, db_session, who):
    rep = plant_user(world, db_session)
    contact = builders.contact(world["factory"])
    client = signed_in(app, world["manager"] if who == "manager" else world["taker"])
    db_session.commit()
    token = csrf_token(client, "/today")
    for path in (f"/admin/users/{rep.id}/erase", f"/admin/contacts/{contact.id}/erase"):
        assert client.get(path).status_code == 403
        posted = client.post(path, data={"csrf_token": token, "confirmation": USER_NAME})
        assert posted.status_code == 403
    db_session.expire_all()
    assert db_session.get(User, rep.id).name == USER_NAME


def test_an_erased_contact_is_in_no_text_column_and_their_visits_keep_the_link(
    admin_client, world, db_session
):
    admin, factory = world["admin"], world["factory"]
    contact = edits.add_contact(
        world["taker"],
        factory,
        name=CONTACT_NAME,
        phone=CONTACT_PHONE,
        wechat_id=CONTACT_WECHAT,
        role="Owner",
        now=datetime.now(UTC),
    )
    visit = builders.visit(
        factory,
        world["taker"],
        contact_id=contact.id,
        notes=f"{CONTACT_NAME} wants a call on {CONTACT_PHONE} or {CONTACT_DIGITS}",
        summary=f"Met {CONTACT_NAME}",
    )
    builders.follow_up(
        factory, world["taker"], datetime.now(UTC), reason=f"WeChat {CONTACT_WECHAT}"
    )
    run = builders.import_run(world["manager"])
    db_session.add(ImportRow(run_id=run.id, line=3, cells=["Factory", CONTACT_NAME, CONTACT_PHONE]))
    db_session.commit()
    needles = (CONTACT_NAME, CONTACT_PHONE, CONTACT_DIGITS, CONTACT_WECHAT)
    assert held_anywhere(*needles)

    factory_page = admin_client.get(f"/factories/{factory.id}").get_data(as_text=True)
    assert f"/admin/contacts/{contact.id}/erase" in factory_page
    path = f"/admin/contacts/{contact.id}/erase"
    assert "What will change" in admin_client.get(path).get_data(as_text=True)
    response = post(admin_client, path, {"confirmation": CONTACT_NAME})
    assert response.status_code == 303

    db_session.expire_all()
    assert held_anywhere(*needles) == []
    assert db_session.get(Visit, visit.id).contact_id == contact.id
    assert db_session.get(Contact, contact.id).erased_at is not None
    entry = db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "erase", AuditEntry.record_type == "contact")
    )
    assert entry.actor_id == admin.id and entry.record_id == contact.id
    page = admin_client.get(f"/factories/{factory.id}").get_data(as_text=True)
    assert html.escape(CONTACT_NAME) not in page and "[erased]" in page
