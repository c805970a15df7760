"""Two-step sign-in: codes at known times, recovery codes, forced enrolment, the admin's reset."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime

import pyotp
import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import ApiToken, AuditEntry, LoginAttempt, RecoveryCode, TwoFactor, UserSession
from crm.services.accounts import auth, password_resets, two_factor
from crm.services.install import settings
from tests import builders
from tests.web.helpers import csrf_token, sign_in

# RFC 6238's test secret ("12345678901234567890") and its time 1111111109: the 8-digit
# SHA-1 code there is 07081804, so the 6-digit code is 081804. The step before is 1111111080.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
NOW = datetime.fromtimestamp(1111111109, UTC)
KNOWN_CODE = "081804"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def enrolled(user, secret: str = RFC_SECRET) -> TwoFactor:
    factor = TwoFactor(user_id=user.id, secret=secret, created_at=NOW, confirmed_at=NOW)
    db.session.add(factor)
    db.session.commit()
    return factor


def post_code(client, code: str):
    token = csrf_token(client, "/login/code")
    return client.post("/login/code", data={"code": code, "csrf_token": token})


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def require_second_factor(admin) -> None:
    settings.put(admin, "second_factor_required", True)
    db.session.commit()


def start_through_the_page(client) -> str:
    """Press Start, then read the new key off the page the answer leads to."""
    token = csrf_token(client, "/account/two-step/")
    started = client.post("/account/two-step/start", data={"csrf_token": token})
    assert started.status_code == 303, started.get_data(as_text=True)[:500]
    assert started.headers["Location"] == "/account/two-step/setup"
    page = html.unescape(client.get("/account/two-step/setup").get_data(as_text=True))
    return re.search(r'class="secret-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")


def enrol_through_the_page(client) -> list[str]:
    """Start, scan (read the key off the page), type the app's code, get the recovery codes."""
    secret = start_through_the_page(client)
    code = pyotp.TOTP(secret).now()
    response = client.post(
        "/account/two-step/",
        data={"code": code, "csrf_token": csrf_token(client, "/account/two-step/")},
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", response.get_data(True))


@pytest.fixture
def rep(db_session):
    user = builders.user("rep", team_=builders.team())
    db_session.commit()
    return user


# --- codes at a known time -------------------------------------------------------------------


def test_the_known_code_of_the_rfc_secret_is_what_pyotp_makes_now():
    assert pyotp.TOTP(RFC_SECRET).now() == KNOWN_CODE


def test_a_right_code_after_the_password_signs_in_and_marks_the_session(client, rep):
    enrolled(rep)
    response = sign_in(client, rep.email)
    assert response.status_code == 303 and response.headers["Location"] == "/login/code"
    assert count(UserSession, UserSession.user_id == rep.id) == 0  # not signed in yet
    assert client.get("/today").status_code == 302  # still the login page's business

    response = post_code(client, KNOWN_CODE)
    assert response.status_code == 303 and response.headers["Location"] == "/today"
    assert client.get("/today").status_code == 200
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == rep.id))
    assert row.second_factor_at == NOW


def test_a_wrong_code_is_refused_and_counts_toward_the_lockout(client, rep):
    enrolled(rep)
    sign_in(client, rep.email)
    response = post_code(client, "123456")
    assert response.status_code == 422
    assert "That code is not right" in response.get_data(as_text=True)
    assert count(UserSession, UserSession.user_id == rep.id) == 0
    assert count(LoginAttempt, LoginAttempt.login == rep.email) == 1
    assert client.get("/today").status_code == 302


def test_a_code_of_the_step_before_still_counts_but_one_further_back_does_not(client, rep):
    factor = enrolled(rep)
    totp = pyotp.TOTP(RFC_SECRET)
    sign_in(client, rep.email)
    assert post_code(client, totp.at(NOW.timestamp() - 60)).status_code == 422
    db.session.refresh(factor)
    assert factor.last_used_step is None
    assert post_code(client, totp.at(NOW.timestamp() - 30)).status_code == 303
    db.session.refresh(factor)
    assert factor.last_used_step == 1111111109 // 30 - 1


def test_a_reused_code_is_refused(app, rep):
    enrolled(rep)
    first = app.test_client()
    sign_in(first, rep.email)
    assert post_code(first, KNOWN_CODE).status_code == 303

    second = app.test_client()
    sign_in(second, rep.email)
    response = post_code(second, KNOWN_CODE)
    assert response.status_code == 422
    assert "used already" in response.get_data(as_text=True)
    assert count(UserSession, UserSession.user_id == rep.id) == 1
    factor = db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == rep.id))
    assert factor.last_used_step == 1111111109 // 30


def test_a_code_of_letters_gets_a_clear_message_and_changes_nothing(client, rep):
    enrolled(rep)
    sign_in(client, rep.email)
    response = post_code(client, "abcdef")
    assert response.status_code == 422
    body = html.unescape(response.get_data(as_text=True))
    assert "Enter the 6 digits that your authenticator app shows" in body
    assert count(LoginAttempt) == 0 and count(UserSession, UserSession.user_id == rep.id) == 0


def test_the_code_page_without_a_password_first_goes_back_to_sign_in(client, rep):
    response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    token = csrf_token(client, "/login")
    response = client.post("/login/code", data={"code": KNOWN_CODE, "csrf_token": token})
    assert response.status_code == 302 and count(UserSession) == 0


def test_a_password_step_left_waiting_too_long_must_be_done_again(client, rep):
    enrolled(rep)
    sign_in(client, rep.email)
    with time_machine.travel(NOW.timestamp() + 301, tick=False):
        response = client.get("/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


# --- enrolment and recovery codes ------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_gives_ten_recovery_codes_stored_only_hashed(client, rep):
    sign_in(client, rep.email)
    start_through_the_page(client)
    page = client.get("/account/two-step/setup").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'class="qr-code"' in page
    assert " style=" not in page

    codes = enrol_through_the_page(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    for code in codes:
        plain = code.replace("-", "")
        assert plain not in stored and code not in stored
        assert hashlib.sha256(plain.encode()).hexdigest() in stored
    factor = db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == rep.id))
    assert factor.confirmed_at == NOW
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == rep.id))
    assert row.second_factor_at == NOW  # the session that enrolled passed the factor
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "enrol_second_factor"))
    # The codes are shown once: the page afterwards shows how many are left, not them.
    page = client.get("/account/two-step/").get_data(as_text=True)
    assert codes[0] not in page and "Recovery codes left: 10 of 10" in page


def test_a_recovery_code_works_once(app, rep):
    enrolling = app.test_client()
    sign_in(enrolling, rep.email)
    codes = enrol_through_the_page(enrolling)

    phone = app.test_client()
    sign_in(phone, rep.email)
    response = post_code(phone, codes[3].upper())
    assert response.status_code == 303
    assert count(RecoveryCode, RecoveryCode.used_at.is_not(None)) == 1

    laptop = app.test_client()
    sign_in(laptop, rep.email)
    response = post_code(laptop, codes[3])
    assert response.status_code == 422
    assert "That code is not right" in response.get_data(as_text=True)


def test_an_enrolment_code_of_letters_or_a_wrong_one_is_refused_by_the_field(client, rep):
    sign_in(client, rep.email)
    start_through_the_page(client)
    token = csrf_token(client, "/account/two-step/")
    response = client.post("/account/two-step/", data={"code": "abcdef", "csrf_token": token})
    assert response.status_code == 422
    assert "digits only" in response.get_data(as_text=True)
    response = client.post("/account/two-step/", data={"code": "000000", "csrf_token": token})
    assert response.status_code == 422
    factor = db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == rep.id))
    assert factor.confirmed_at is None and count(RecoveryCode) == 0


def test_enrolling_signs_out_the_users_other_devices(app, rep):
    other = app.test_client()
    sign_in(other, rep.email)
    client = app.test_client()
    sign_in(client, rep.email)
    enrol_through_the_page(client)
    assert other.get("/today").status_code == 302
    assert client.get("/today").status_code == 200


def test_a_rep_may_turn_it_off_with_the_password(client, rep):
    sign_in(client, rep.email)
    enrol_through_the_page(client)
    token = csrf_token(client, "/account/two-step/")
    wrong = client.post("/account/two-step/off", data={"password": "nope", "csrf_token": token})
    assert wrong.status_code == 422 and count(TwoFactor) == 1
    data = {"password": builders.PASSWORD, "csrf_token": token}
    assert client.post("/account/two-step/off", data=data).status_code == 303
    assert count(TwoFactor) == 0 and count(RecoveryCode) == 0


# --- required of admins and managers ---------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager"])
def test_an_admin_or_manager_who_has_not_enrolled_reaches_only_enrolment(app, db_session, role):
    admin = builders.user("admin")
    user = admin if role == "admin" else builders.user("manager", leads=[builders.team()])
    db_session.commit()
    require_second_factor(admin)
    client = app.test_client()
    response = sign_in(client, user.email)
    assert response.status_code == 303
    for path in ("/admin/", "/pipeline/", "/account/", "/factories/", "/today", "/inbox/", "/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/two-step/", path
    api = client.get("/api/v1/session")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/account/two-step/").status_code == 200

    enrol_through_the_page(client)
    assert client.get("/account/").status_code == 200


def test_a_rep_is_not_made_to_enrol_when_admins_and_managers_are(app, db_session, rep):
    require_second_factor(builders.user("admin"))
    client = app.test_client()
    sign_in(client, rep.email)
    assert client.get("/today").status_code == 200
    assert two_factor.session_satisfied(rep) is True


def test_signing_out_stays_open_while_enrolment_is_pending(app, db_session):
    admin = builders.user("admin")
    db_session.commit()
    require_second_factor(admin)
    client = app.test_client()
    sign_in(client, admin.email)
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account/two-step/")})
    assert response.status_code == 303 and response.headers["Location"] == "/login?out=1"


def test_session_satisfied_follows_the_setting_and_the_session(app, db_session):
    admin = builders.user("admin")
    db_session.commit()
    with app.test_request_context():
        auth.start_session(admin, "test", "127.0.0.1")
        db.session.flush()
        assert two_factor.session_satisfied(admin) is True
        settings.put(admin, "second_factor_required", True)
        assert two_factor.session_satisfied(admin) is False
        two_factor.mark_session_passed(admin, NOW)
        assert two_factor.session_satisfied(admin) is True


# --- the admin's page ------------------------------------------------------------------------


@pytest.fixture
def admin_client(app, db_session):
    admin = builders.user("admin")
    db_session.commit()
    return app.test_client(user=admin), admin


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def test_the_admin_switches_the_requirement_on_and_it_is_audited(app, db_session):
    admin = builders.user("admin")
    db_session.commit()
    client = signed_in(app, admin)
    assert "Optional for everyone" in client.get("/admin/security/").get_data(as_text=True)
    token = csrf_token(client, "/admin/security/")
    response = client.post(
        "/admin/security/second-factor", data={"required": "y", "csrf_token": token}
    )
    assert response.status_code == 303
    assert settings.get("second_factor_required") is True
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "change_setting"))
    assert entry.actor_id == admin.id
    assert entry.changes == {"second_factor_required": [False, True]}


def test_an_admins_reset_removes_the_factor_and_writes_an_audit_entry(app, db_session, rep):
    enrolled(rep)
    admin = builders.user("admin")
    db_session.commit()
    client = signed_in(app, admin)
    enrolled(admin)  # the admin's own session passed it (made before it existed: mark it)
    db.session.execute(
        UserSession.__table__.update()
        .where(UserSession.user_id == admin.id)
        .values(second_factor_at=NOW)
    )
    db.session.commit()
    page = client.get("/admin/security/").get_data(as_text=True)
    assert rep.name in page
    token = csrf_token(client, "/admin/security/")
    response = client.post("/admin/security/reset", data={"user_id": rep.id, "csrf_token": token})
    assert response.status_code == 303
    assert count(TwoFactor, TwoFactor.user_id == rep.id) == 0
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "reset_second_factor"))
    assert entry.actor_id == admin.id and entry.record_id == rep.id


def test_a_reset_for_a_user_that_does_not_exist_is_a_clear_404_and_changes_nothing(
    app, db_session, rep
):
    enrolled(rep)
    admin = builders.user("admin")
    db_session.commit()
    client = signed_in(app, admin)
    entries = count(AuditEntry)
    token = csrf_token(client, "/admin/security/")
    response = client.post("/admin/security/reset", data={"user_id": 987654, "csrf_token": token})
    assert response.status_code == 404
    assert "There is no user with the number 987654." in response.get_data(as_text=True)
    assert count(TwoFactor) == 1 and count(AuditEntry) == entries
    response = client.post("/admin/security/reset", data={"user_id": "abc", "csrf_token": token})
    assert response.status_code == 422 and count(TwoFactor) == 1


def test_the_security_page_is_the_admins_alone(app, db_session, rep):
    manager = builders.user("manager", leads=[builders.team()])
    db_session.commit()
    assert signed_in(app, manager).get("/admin/security/").status_code == 403
    assert signed_in(app, rep).get("/admin/security/").status_code == 403


def make_token_through_the_page(client) -> str:
    token = csrf_token(client, "/account/tokens/")
    response = client.post("/account/tokens/", data={"name": "Sheet sync", "csrf_token": token})
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    body = response.get_data(as_text=True)
    return re.search(r'id="token-secret"[^>]*value="(crm_[A-Za-z0-9_-]+)"', body).group(1)


def bearer_answer(app, secret: str) -> int:
    headers = {"Authorization": f"Bearer {secret}"}
    return app.test_client().get("/api/v1/session", headers=headers).status_code


def test_a_token_made_by_a_password_alone_stops_when_an_admin_requires_the_second_factor(
    app, db_session
):
    admin = builders.user("admin")
    manager = builders.user("manager", leads=[builders.team()])
    db_session.commit()
    client = app.test_client()
    sign_in(client, manager.email)
    secret = make_token_through_the_page(client)
    assert bearer_answer(app, secret) == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == manager.id))
    assert row.second_factor_at is None
    require_second_factor(admin)
    assert bearer_answer(app, secret) == 401


def test_a_token_made_by_a_password_alone_stops_when_its_user_turns_the_factor_on(app, rep):
    client = app.test_client()
    sign_in(client, rep.email)
    secret = make_token_through_the_page(client)
    enrol_through_the_page(client)
    assert bearer_answer(app, secret) == 401


def test_a_token_made_after_the_second_factor_keeps_working_when_it_becomes_required(
    app, db_session
):
    admin = builders.user("admin")
    manager = builders.user("manager", leads=[builders.team()])
    db_session.commit()
    enrolled(manager)
    client = app.test_client()
    sign_in(client, manager.email)
    assert post_code(client, KNOWN_CODE).status_code == 303
    secret = make_token_through_the_page(client)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == manager.id))
    assert row.second_factor_at == NOW
    require_second_factor(admin)
    assert bearer_answer(app, secret) == 200


# --- the secret is made on Start only --------------------------------------------------------


def test_opening_the_set_up_page_makes_no_secret(client, rep):
    sign_in(client, rep.email)
    page = client.get("/account/two-step/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'action="/account/two-step/start"' in body and "secret-key" not in body
    assert count(TwoFactor) == 0
    # The page that shows the key, opened before any start, shows none and makes none.
    setup = client.get("/account/two-step/setup")
    assert setup.status_code == 303 and setup.headers["Location"] == "/account/two-step/"
    assert count(TwoFactor) == 0


def test_each_start_makes_a_new_secret_and_the_old_ones_code_is_refused(client, rep):
    sign_in(client, rep.email)
    first = start_through_the_page(client)
    second = start_through_the_page(client)
    assert first != second and count(TwoFactor) == 1
    token = csrf_token(client, "/account/two-step/")
    old_code = pyotp.TOTP(first).now()
    assert old_code != pyotp.TOTP(second).now()
    refused = client.post("/account/two-step/", data={"code": old_code, "csrf_token": token})
    assert refused.status_code == 422
    factor = db.session.scalar(select(TwoFactor).where(TwoFactor.user_id == rep.id))
    assert factor.secret == second and factor.confirmed_at is None


def test_a_code_sent_without_a_start_is_refused_by_the_field(client, rep):
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/two-step/")
    response = client.post("/account/two-step/", data={"code": KNOWN_CODE, "csrf_token": token})
    assert response.status_code == 422
    assert "Start" in html.unescape(response.get_data(as_text=True))
    assert count(TwoFactor) == 0


def test_a_password_reset_forgets_a_started_secret(app, rep):
    client = app.test_client()
    sign_in(client, rep.email)
    start_through_the_page(client)
    link = password_resets.issue(rep, by=None)
    db.session.commit()
    path = "/reset/" + link.rsplit("/reset/", 1)[1]
    visitor = app.test_client()
    password = "a-fresh-password-77"
    data = {"password": password, "confirm": password, "csrf_token": csrf_token(visitor, path)}
    assert visitor.post(path, data=data).status_code == 303
    assert count(TwoFactor, TwoFactor.user_id == rep.id) == 0


def test_making_an_api_token_needs_a_session_that_passed_the_second_factor(app, db_session):
    """The pages' gate already keeps such a session out; the one door for tokens checks too."""
    from crm.errors import NotAllowed
    from crm.models import ApiToken
    from crm.services.accounts import api_tokens

    admin = builders.user("admin")
    manager = builders.user("manager", leads=[builders.team()])
    db_session.commit()
    with app.test_request_context():
        auth.start_session(manager, "test", "127.0.0.1")
        require_second_factor(admin)
        with pytest.raises(NotAllowed, match="second factor"):
            api_tokens.create(manager, "Spreadsheet sync", None, NOW)
        assert count(ApiToken, ApiToken.user_id == manager.id) == 0
        two_factor.mark_session_passed(manager, NOW)
        api_tokens.create(manager, "Spreadsheet sync", None, NOW)
        assert count(ApiToken, ApiToken.user_id == manager.id) == 1
