"""Signed-in devices: the account page lists them; one ended there stops that phone's outbox."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import event, func, select

from crm.extensions import db
from crm.models import UserSession, Visit
from crm.services.accounts import auth
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
PHONE_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0) AppleWebKit Mobile/15E148 Safari/604.1"
DESK_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, lat=29.87, lng=121.54)
    db_session.commit()
    return {"rep": rep, "factory": factory}


def phone_and_desk(app, rep):
    phone = app.test_client()
    sign_in(
        phone,
        rep.email,
        headers={"User-Agent": PHONE_AGENT},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    desk = app.test_client()
    sign_in(desk, rep.email, headers={"User-Agent": DESK_AGENT})
    return phone, desk


def phone_row(rep) -> UserSession:
    return db.session.scalars(
        select(UserSession).where(UserSession.user_id == rep.id).order_by(UserSession.id)
    ).first()


def test_the_account_page_lists_browser_address_signed_in_and_last_seen(app, world):
    _phone, desk = phone_and_desk(app, world["rep"])
    page = html.unescape(desk.get("/account/").get_data(as_text=True))
    assert "Safari · Phone" in page and "Chrome · Computer" in page
    assert "10.1.2.3" in page
    assert page.count("signed in ") >= 2 and page.count("last seen ") >= 2
    assert "this device" in page
    # Only the other device has its own button (this one signs out from the top bar).
    assert len(re.findall(r'action="/account/sessions/\d+/end"', page)) == 1


def test_a_device_signed_out_there_has_its_outbox_asked_to_sign_in_not_accepted(app, world):
    phone, desk = phone_and_desk(app, world["rep"])
    phone_token = csrf_token(phone, "/account/")  # what the outbox holds before its flush
    row = phone_row(world["rep"])
    response = desk.post(
        f"/account/sessions/{row.id}/end", data={"csrf_token": csrf_token(desk, "/account/")}
    )
    assert response.status_code == 303

    data = {
        "factory_id": str(world["factory"].id),
        "client_key": "phone-key-0001",
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "checked_in_at": "2026-11-25T09:59:00+08:00",
        "lat": "29.87",
        "lng": "121.54",
        "accuracy_m": "15",
        "position_at": "2026-11-25T01:58:40Z",
    }
    answer = phone.post(
        "/api/v1/visits",
        data=data,
        headers={"X-CSRFToken": phone_token, "Idempotency-Key": "phone-key-0001"},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 401
    error = answer.get_json()["error"]
    assert error["code"] == "unauthorized" and "Sign in" in error["message"]
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    # The same post from the desk, still signed in, is accepted: the refusal was the session's.
    accepted = desk.post(
        "/api/v1/visits",
        data=data,
        headers={"X-CSRFToken": csrf_token(desk, "/account/")},
        content_type="multipart/form-data",
    )
    assert accepted.status_code in (200, 201), accepted.get_data(as_text=True)[:300]


def test_signing_out_a_session_of_another_user_says_so_and_changes_nothing(app, world):
    _phone, desk = phone_and_desk(app, world["rep"])
    other = builders.user("rep", team_=builders.team())
    db.session.commit()
    auth.start_session(other, DESK_AGENT, "10.9.9.9")
    db.session.commit()
    theirs = db.session.scalars(select(UserSession).where(UserSession.user_id == other.id)).one()
    token = csrf_token(desk, "/account/")
    response = desk.post(f"/account/sessions/{theirs.id}/end", data={"csrf_token": token})
    assert response.status_code == 303
    page = html.unescape(desk.get("/account/").get_data(as_text=True))
    assert "not among your signed-in devices any more; nothing was changed" in page
    db.session.expire_all()
    assert theirs.revoked_at is None
    assert (
        db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.revoked_at.is_not(None))
        )
        == 0
    )


def test_last_seen_is_saved_by_a_request_that_only_reads_and_written_once(app, world):
    phone, _desk = phone_and_desk(app, world["rep"])
    later = datetime(2026, 11, 25, 2, 5, tzinfo=UTC)
    updates: list[str] = []

    def seen(_connection, _cursor, statement, *_arguments):
        if statement.startswith("UPDATE user_sessions"):
            updates.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with time_machine.travel(later, tick=False):
            assert phone.get("/today").status_code == 200
            assert phone.get("/today").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(updates) == 1  # the second request finds the time already written
    db.session.expire_all()
    assert phone_row(world["rep"]).last_seen_at == later
