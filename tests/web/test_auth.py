"""Sign-in, lockout, sign-out, sessions as rows, CSRF, password change and language."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.models import LoginAttempt, UserSession
from crm.services.accounts import auth
from crm.services.install import settings
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOON = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@pytest.fixture
def team(db_session):
    return builders.team()


@pytest.mark.parametrize(
    ("role", "home"),
    [("rep", "/today"), ("manager", "/pipeline/"), ("admin", "/admin/"), ("factory", "/portal/")],
)
def test_each_role_lands_on_its_own_home(client, db_session, team, role, home):
    belt = builders.belt(team)
    factory = builders.factory(belt) if role == "factory" else None
    user = builders.user(
        role, team_=team, leads=[team] if role == "manager" else None, factory=factory
    )
    db_session.commit()
    response = sign_in(client, user.email)
    assert response.status_code == 303
    assert response.headers["Location"] == home
    assert client.get(home).status_code == 200


def test_login_by_mobile_number_in_any_typed_form(client, db_session, team):
    rep = builders.user("rep", team_=team)
    rep.phone = "13812345678"
    db_session.commit()
    assert sign_in(client, "+86 138-1234-5678").headers["Location"] == "/today"


def test_login_by_email_ignores_case_and_spaces(client, db_session, team):
    rep = builders.user("rep", team_=team, email="li.na@example.test")
    db_session.commit()
    assert sign_in(client, "  Li.Na@Example.TEST ").status_code == 303
    assert rep.id


def test_sign_in_records_a_session_row(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    sign_in(client, rep.email, headers={"User-Agent": "Mozilla/5.0 (Linux; Android 14) Mobile"})
    rows = db_session.scalars(select(UserSession).where(UserSession.user_id == rep.id)).all()
    assert len(rows) == 1 and rows[0].revoked_at is None


def test_wrong_password_and_unknown_login_get_the_same_answer(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    wrong = sign_in(client, rep.email, "not-the-password-1")
    unknown = sign_in(client, "nobody@example.test", "not-the-password-1")
    assert wrong.status_code == unknown.status_code == 422
    assert str(auth.WRONG_LOGIN) in wrong.get_data(as_text=True)
    assert str(auth.WRONG_LOGIN) in unknown.get_data(as_text=True)


def test_deactivated_user_is_answered_like_an_unknown_login(client, db_session, team):
    rep = builders.user("rep", team_=team, active=False)
    db_session.commit()
    response = sign_in(client, rep.email)
    assert response.status_code == 422
    assert str(auth.WRONG_LOGIN) in response.get_data(as_text=True)


def test_five_failures_lock_that_login_and_address_for_fifteen_minutes(
    app, client, db_session, team
):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    with time_machine.travel(NOON, tick=False) as traveller:
        for _ in range(5):
            assert sign_in(client, rep.email, "wrong-password-123").status_code == 422
        locked = sign_in(client, rep.email)  # even the right password
        assert locked.status_code == 429
        assert "Too many failed sign-ins" in locked.get_data(as_text=True)
        assert locked.headers["Retry-After"]
        # Another address is not locked out for this login.
        other = sign_in(app.test_client(), rep.email, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 303
        traveller.shift(timedelta(minutes=15, seconds=1))
        assert sign_in(client, rep.email).status_code == 303


def test_failures_are_forgotten_after_a_successful_sign_in(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    for _ in range(3):
        sign_in(client, rep.email, "wrong-password-123")
    sign_in(client, rep.email)
    count = db_session.scalar(select(func.count()).select_from(LoginAttempt))
    assert count == 0


def test_sign_out_ends_the_session_row_and_the_cookie(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    sign_in(client, rep.email, remember="y")
    token = csrf_token(client, "/today")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login?out=1"
    assert client.get("/today").headers["Location"].startswith("/login")
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == rep.id))
    db_session.refresh(row)
    assert row.revoked_at is not None


def test_a_revoked_session_is_refused_even_with_its_cookie(app, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, rep.email)
    sign_in(laptop, rep.email)
    token = csrf_token(laptop, "/account/")
    laptop.post("/account/sessions/end-others", data={"csrf_token": token})
    assert phone.get("/today").status_code == 302
    assert laptop.get("/today").status_code == 200


def test_remember_me_sets_a_remember_cookie(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    sign_in(client, rep.email, remember="y")
    assert client.get_cookie("remember_token") is not None


def test_keep_me_signed_in_is_ticked_at_first_for_field_staffs_phones(client, db_session):
    # The install's default: a rep who signs in on their phone stays signed in (and keeps the
    # pages saved for offline use), unless they untick it on a shared phone.
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<input [^>]*checked id="remember"', page)
    assert "Untick it on a shared phone or computer." in page


def test_keep_me_signed_in_starts_unticked_when_the_admin_says_so(client, db_session):
    admin = builders.user("admin")
    settings.put(admin, "stay_signed_in", False)
    db_session.commit()
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<input [^>]*id="remember"', page) and " checked " not in page


def test_a_form_posted_without_csrf_token_is_refused_and_changes_nothing(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    response = client.post("/login", data={"login": rep.email, "password": builders.PASSWORD})
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_next_goes_only_to_paths_on_this_site(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    assert sign_in(client, rep.email, next="https://evil.example/x").headers["Location"] == "/today"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/today")})
    assert sign_in(client, rep.email, next="/account/").headers["Location"] == "/account/"


@pytest.mark.parametrize(
    ("login", "password", "field_message"),
    [
        ("", "", "Enter your e-mail or mobile number."),
        (
            "x" * 300,
            "whatever-123",
            "E-mail or mobile number: use at most 254 characters (now 300).",
        ),
        ("rep@example.test", "", "Enter your password."),
        ("rep@example.test", "p" * 200, "Password: use at most 128 characters (now 200)."),
    ],
)
def test_bad_login_input_gets_a_message_by_the_field(
    client, db_session, login, password, field_message
):
    response = sign_in(client, login, password)
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)


def _change_password(client, current, new):
    token = csrf_token(client, "/account/")
    return client.post(
        "/account/password",
        data={"csrf_token": token, "current_password": current, "new_password": new},
    )


def test_password_change_ends_other_sessions_and_keeps_this_one(app, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, rep.email)
    sign_in(laptop, rep.email)
    response = _change_password(laptop, builders.PASSWORD, "a-new-long-passphrase")
    assert response.status_code == 303
    assert laptop.get("/today").status_code == 200
    assert phone.get("/today").status_code == 302
    laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/today")})
    assert sign_in(laptop, rep.email, "a-new-long-passphrase").status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "message"),
    [
        ("wrong-current-1", "a-new-long-passphrase", "This is not your current password."),
        (builders.PASSWORD, "short", "Password: use at least 10 characters."),
        (builders.PASSWORD, "password123", "This password is too common"),
        (builders.PASSWORD, "aaaaaaaaaaaa", "This password is too common"),
        (builders.PASSWORD, "", "Enter a new password."),
    ],
)
def test_bad_password_change_says_why_and_changes_nothing(
    client, db_session, team, current, new, message
):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    before = rep.password_hash
    sign_in(client, rep.email)
    response = _change_password(client, current, new)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db_session.refresh(rep)
    assert rep.password_hash == before


def test_language_is_a_setting_on_the_profile(client, db_session, team):
    rep = builders.user("rep", team_=team)
    db_session.commit()
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/")
    assert (
        client.post(
            "/account/language", data={"csrf_token": token, "locale": "zh_Hans"}
        ).status_code
        == 303
    )
    assert "今天" in client.get("/today").get_data(as_text=True)
    bad = client.post("/account/language", data={"csrf_token": token, "locale": "klingon"})
    assert bad.status_code == 422
    db_session.refresh(rep)
    assert rep.locale == "zh_Hans"


def test_language_defaults_to_the_browsers(client, db_session):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert "登录" in page.get_data(as_text=True)
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en-GB"}).get_data(
        as_text=True
    )


def test_the_login_page_is_rate_limited_per_address_with_a_clear_answer(app, client, db_session):
    app.config["CRM_LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        answers = [sign_in(client, "someone@example.test", "wrong-password-1") for _ in range(4)]
    finally:
        app.config["CRM_LOGIN_RATE_LIMIT"] = "10000 per minute"
    assert [answer.status_code for answer in answers] == [422, 422, 422, 429]
    assert "Too many attempts" in answers[-1].get_data(as_text=True)
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_a_user_signs_out_one_device_and_its_cookie_stops_working(app, db_session):
    user = builders.user("rep", team_=builders.team())
    db_session.commit()
    phone = app.test_client()
    sign_in(phone, user.email, headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile Safari"})
    desk = app.test_client()
    sign_in(desk, user.email)
    phone_row = db_session.scalars(
        select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
    ).first()
    token = csrf_token(desk, "/account/")
    response = desk.post(f"/account/sessions/{phone_row.id}/end", data={"csrf_token": token})
    assert response.status_code == 303
    assert phone.get("/today").status_code == 302  # asked to sign in again
    assert phone.get("/api/v1/session").status_code == 401  # the phone's outbox is refused
    assert desk.get("/today").status_code == 200
    other = builders.user("rep", team_=builders.team())
    db_session.commit()
    auth.start_session(other, "x", "127.0.0.1")
    db_session.commit()
    theirs = db_session.scalars(select(UserSession).where(UserSession.user_id == other.id)).one()
    desk.post(f"/account/sessions/{theirs.id}/end", data={"csrf_token": token})
    db_session.expire_all()
    assert theirs.revoked_at is None  # another user's device is never ended


def test_forgot_is_rate_limited_per_login_from_any_address(app, db_session, team):
    rep = builders.user("rep", team_=team)
    rep.phone = "13800002222"
    db_session.commit()
    app.config["CRM_FORGOT_RATE_LIMIT"] = "2 per hour"
    answers = []
    try:
        # The same login however typed, each request from an address of its own.
        for number, login in enumerate([rep.email, rep.email.upper(), "+86 138 0000 2222"]):
            client = app.test_client()
            address = {"REMOTE_ADDR": f"10.0.0.{number + 1}"}
            token = csrf_token(client, "/forgot", environ_base=address)
            answers.append(
                client.post(
                    "/forgot",
                    data={"login": login, "csrf_token": token},
                    environ_base=address,
                )
            )
        other = app.test_client()
        token = csrf_token(other, "/forgot")
        someone_else = other.post(
            "/forgot", data={"login": "else@example.test", "csrf_token": token}
        )
    finally:
        app.config["CRM_FORGOT_RATE_LIMIT"] = "10000 per minute"
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert "Too many attempts" in answers[-1].get_data(as_text=True)
    assert someone_else.status_code == 200
