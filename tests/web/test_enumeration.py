"""No enumeration: sign-in, "forgot password" and the code page answer alike for every login.

Pages are compared byte for byte after two things that differ by design are normalised: the
CSRF token and the login typed back into its field.
"""

from __future__ import annotations

import asyncio
import re
import socket
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import LoginAttempt, PasswordReset, TwoFactor, UserSession
from crm.services.accounts import auth, two_factor
from tests import builders
from tests.web.helpers import csrf_token, sign_in

UNKNOWN = "nobody-here@example.test"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = datetime.now(UTC)
_CSRF = re.compile(r'(name="csrf-token" content="|name="csrf_token" type="hidden" value=")[^"]+"')


def normalised(response, login: str) -> tuple[int, str]:
    body = _CSRF.sub(r'\1CSRF"', response.get_data(as_text=True))
    return response.status_code, body.replace(f'value="{login}"', 'value="LOGIN"')


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def people(db_session):
    team = builders.team()
    known = builders.user("rep", team_=team)
    gone = builders.user("rep", team_=team)
    gone.active = False
    db_session.commit()
    return {"known": known, "gone": gone}


@pytest.fixture
def hash_checks(monkeypatch):
    """A spy on the password check: every (hash, password) it was asked about."""
    calls: list[tuple[str, str]] = []
    real = auth.check_password_hash

    def spy(hashed: str, password: str) -> bool:
        calls.append((hashed, password))
        return real(hashed, password)

    monkeypatch.setattr(auth, "check_password_hash", spy)
    return calls


# --- sign-in ---------------------------------------------------------------------------------


def test_login_answers_alike_for_a_known_and_an_unknown_login(app, people):
    known = sign_in(app.test_client(), people["known"].email, "wrong-password-1")
    unknown = sign_in(app.test_client(), UNKNOWN, "wrong-password-1")
    assert known.status_code == 422
    assert normalised(known, people["known"].email) == normalised(unknown, UNKNOWN)
    assert "That login and password do not match" in unknown.get_data(as_text=True)


def test_a_deactivated_login_answers_like_an_unknown_one_even_with_the_right_password(app, people):
    gone = sign_in(app.test_client(), people["gone"].email)  # the right password
    unknown = sign_in(app.test_client(), UNKNOWN)
    assert gone.status_code == 422
    assert normalised(gone, people["gone"].email) == normalised(unknown, UNKNOWN)
    assert count(UserSession) == 0


def test_an_unknown_login_is_checked_once_against_the_stand_in_hash(client, people, hash_checks):
    sign_in(client, UNKNOWN, "some-password-1")
    assert hash_checks == [(auth._stand_in_hash(), "some-password-1")]
    assert count(LoginAttempt, LoginAttempt.login == UNKNOWN) == 1


def test_a_deactivated_login_is_checked_against_the_stand_in_hash_too(client, people, hash_checks):
    sign_in(client, people["gone"].email, "some-password-1")
    assert hash_checks == [(auth._stand_in_hash(), "some-password-1")]


def test_a_known_login_is_checked_once_against_its_own_hash(client, people, hash_checks):
    sign_in(client, people["known"].email, "some-password-1")
    assert hash_checks == [(people["known"].password_hash, "some-password-1")]


# --- forgot password -------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd's handler: keeps what the server accepted."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(app, monkeypatch):
    """A real SMTP server on 127.0.0.1 (aiosmtpd), and the app pointed at it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    yield mailbox
    controller.stop()
    asyncio.set_event_loop(None)


def forgot(client, login: str):
    token = csrf_token(client, "/forgot")
    return client.post("/forgot", data={"login": login, "csrf_token": token})


def test_forgot_answers_alike_and_mails_a_link_only_to_a_real_user(app, people, smtp):
    known = forgot(app.test_client(), people["known"].email.upper())
    unknown = forgot(app.test_client(), UNKNOWN)
    assert known.status_code == 200
    assert normalised(known, people["known"].email.upper()) == normalised(unknown, UNKNOWN)
    assert "a link to choose a new password is on its way" in unknown.get_data(as_text=True)

    assert count(PasswordReset) == 1
    assert count(PasswordReset, PasswordReset.user_id == people["known"].id) == 1
    assert [m.rcpt_tos for m in smtp.messages] == [[people["known"].email]]
    assert "/reset/" in smtp.messages[0].content.decode()


def test_forgot_for_a_deactivated_login_answers_like_an_unknown_one(app, people, smtp):
    gone = forgot(app.test_client(), people["gone"].email)
    unknown = forgot(app.test_client(), UNKNOWN)
    assert normalised(gone, people["gone"].email) == normalised(unknown, UNKNOWN)
    assert count(PasswordReset) == 0 and smtp.messages == []


def test_forgot_without_a_login_says_so_by_the_field(client, people):
    response = forgot(client, "")
    assert response.status_code == 422
    assert "Enter your e-mail or mobile number." in response.get_data(as_text=True)
    assert count(PasswordReset) == 0


# --- the code page ---------------------------------------------------------------------------


def test_the_code_page_answers_alike_when_the_user_went_away_meanwhile(app, people, monkeypatch):
    """A wrong code for a real user, and any code once the user was deactivated after the
    password step: the same page, and the deactivated one is checked against a stand-in."""
    other = builders.user("rep", team_=people["known"].team)
    for user in (people["known"], other):
        db.session.add(TwoFactor(user_id=user.id, secret=SECRET, confirmed_at=NOW))
    db.session.commit()

    real = app.test_client()
    sign_in(real, people["known"].email)
    went_away = app.test_client()
    sign_in(went_away, other.email)
    other.active = False
    db.session.commit()

    secrets_checked: list[str] = []
    original = two_factor._matching_step

    def spy(secret, code, now):
        secrets_checked.append(secret)
        return original(secret, code, now)

    monkeypatch.setattr(two_factor, "_matching_step", spy)

    def post(client):
        token = csrf_token(client, "/login/code")
        return client.post("/login/code", data={"code": "000000", "csrf_token": token})

    first, second = post(real), post(went_away)
    assert first.status_code == 422
    assert normalised(first, "") == normalised(second, "")
    assert secrets_checked == [SECRET, two_factor._stand_in_secret()]
    assert count(UserSession) == 0
