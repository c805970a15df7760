"""Personal API tokens: shown once, stored hashed, bearer on /api/v1 only, refused when
revoked, expired or of an inactive user, and limited per token."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import ApiToken
from crm.services.accounts import api_tokens, password_resets
from tests import builders
from tests.web.helpers import csrf_token, sign_in

SECRET = re.compile(r'id="token-secret"[^>]*value="(crm_[A-Za-z0-9_-]+)"')


@pytest.fixture
def rep(db_session):
    team = builders.team()
    user = builders.user("rep", team_=team)
    builders.factory(builders.belt(team), owner=user)
    db_session.commit()
    return user


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_is_shown_once_and_stored_only_as_its_hash(client, rep, db_session):
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/tokens/")
    response = client.post(
        "/account/tokens/", data={"name": "Marketplace sync", "csrf_token": token}
    )
    assert response.status_code == 201
    secret = SECRET.search(response.get_data(as_text=True)).group(1)
    stored = db_session.scalar(select(ApiToken).where(ApiToken.user_id == rep.id))
    assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(stored.prefix) and len(secret) > len(stored.prefix) + 30
    again = client.get("/account/tokens/").get_data(as_text=True)
    assert secret not in again and stored.prefix in again and "Marketplace sync" in again
    assert client.get("/api/v1/session", headers=bearer(secret)).get_json()["user_id"] == rep.id


def test_the_account_page_links_to_the_tokens(client, rep):
    sign_in(client, rep.email)
    assert "/account/tokens/" in client.get("/account/").get_data(as_text=True)


def test_a_token_without_a_name_is_refused_by_the_field(client, rep, db_session):
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/tokens/")
    response = client.post("/account/tokens/", data={"name": " ", "csrf_token": token})
    assert response.status_code == 422
    assert "Name the token" in response.get_data(as_text=True)
    assert db_session.scalar(select(ApiToken).where(ApiToken.user_id == rep.id)) is None


def test_a_past_expiry_is_refused_by_the_field(client, rep):
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/tokens/")
    response = client.post(
        "/account/tokens/",
        data={"name": "old", "expires_on": "2020-01-01", "csrf_token": token},
    )
    assert response.status_code == 422
    assert "Pick an expiry date after today" in response.get_data(as_text=True)


def test_bearer_works_on_the_api_only_not_on_pages(client, rep, db_session):
    secret = api_tokens.create(rep, "sync", None).secret
    db_session.commit()
    assert client.get("/api/v1/factories", headers=bearer(secret)).status_code == 200
    page = client.get("/factories/", headers=bearer(secret))
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_bearer_changes_need_no_csrf_token_but_session_changes_do(client, rep, db_session):
    secret = api_tokens.create(rep, "sync", None).secret
    db_session.commit()
    body = {"name": "Bearer works", "belt_id": rep.team.belts[0].id}
    assert client.post("/api/v1/factories", json=body, headers=bearer(secret)).status_code == 201
    sign_in(client, rep.email)
    refused = client.post("/api/v1/factories", json={**body, "name": "No CSRF"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    token = client.get("/api/v1/session").get_json()["csrf_token"]
    accepted = client.post(
        "/api/v1/factories", json={**body, "name": "With CSRF"}, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201


@pytest.mark.parametrize("why", ["revoked", "expired", "inactive", "unknown", "not bearer"])
def test_a_token_that_does_not_work_answers_401(client, rep, db_session, why):
    now = datetime.now(UTC)
    made = api_tokens.create(rep, "sync", now + timedelta(days=1))
    secret = made.secret
    if why == "revoked":
        api_tokens.revoke(rep, made.token.id, now)
    elif why == "expired":
        made.token.expires_at = now - timedelta(seconds=1)
    elif why == "inactive":
        rep.active = False
    elif why == "unknown":
        secret = secret[:-4] + "AAAA"
    db_session.commit()
    headers = bearer(secret) if why != "not bearer" else {"Authorization": f"Basic {secret}"}
    response = client.get("/api/v1/factories", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] in ("invalid_token", "unauthorized")
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}


def test_anonymous_api_requests_answer_401(client, db_session):
    response = client.get("/api/v1/factories")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_revoking_another_users_token_revokes_nothing(client, rep, db_session):
    other = builders.user("rep", team_=rep.team)
    made = api_tokens.create(other, "theirs", None)
    db_session.commit()
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/tokens/")
    response = client.post(f"/account/tokens/{made.token.id}/revoke", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.expire_all()
    assert db_session.get(ApiToken, made.token.id).revoked_at is None
    assert client.get("/api/v1/session", headers=bearer(made.secret)).status_code == 200


def test_revoking_ones_own_token_stops_it(client, rep, db_session):
    made = api_tokens.create(rep, "mine", None)
    db_session.commit()
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/tokens/")
    client.post(f"/account/tokens/{made.token.id}/revoke", data={"csrf_token": token})
    assert client.get("/api/v1/session", headers=bearer(made.secret)).status_code == 401


def test_the_rate_limit_is_per_token_and_answers_429_in_the_error_shape(
    app, client, rep, db_session, monkeypatch
):
    monkeypatch.setitem(app.config, "CRM_API_RATE_LIMIT", "3 per minute")
    first = api_tokens.create(rep, "first", None).secret
    second = api_tokens.create(rep, "second", None).secret
    db_session.commit()
    answers = [client.get("/api/v1/session", headers=bearer(first)) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    refused = answers[-1]
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert set(refused.get_json()["error"]) == {"code", "message", "fields"}
    assert int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/v1/session", headers=bearer(second)).status_code == 200


def test_last_use_is_recorded(client, rep, db_session):
    made = api_tokens.create(rep, "sync", None)
    db_session.commit()
    client.get("/api/v1/session", headers=bearer(made.secret))
    db.session.expire_all()
    assert db_session.get(ApiToken, made.token.id).last_used_at is not None


# --- a new password revokes every token for good -----------------------------------------------


def test_a_password_change_revokes_the_users_tokens(client, rep, db_session):
    made = api_tokens.create(rep, "sync", None)
    db_session.commit()
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": builders.PASSWORD,
            "new_password": "a-new-long-passphrase",
        },
    )
    assert response.status_code == 303
    assert client.get("/api/v1/session", headers=bearer(made.secret)).status_code == 401
    db.session.expire_all()
    assert db_session.get(ApiToken, made.token.id).revoked_at is not None
    assert client.get("/today").status_code == 200  # the session that changed it stays


def test_a_refused_password_change_keeps_the_tokens(client, rep, db_session):
    made = api_tokens.create(rep, "sync", None)
    db_session.commit()
    sign_in(client, rep.email)
    token = csrf_token(client, "/account/")
    data = {"csrf_token": token, "current_password": "wrong-one-11", "new_password": "x" * 12}
    assert client.post("/account/password", data=data).status_code == 422
    assert client.get("/api/v1/session", headers=bearer(made.secret)).status_code == 200


def test_a_password_reset_revokes_the_users_tokens(app, rep, db_session):
    made = api_tokens.create(rep, "sync", None)
    link = password_resets.issue(rep, by=None)
    db_session.commit()
    path = "/reset/" + link.rsplit("/reset/", 1)[1]
    visitor = app.test_client()
    token = csrf_token(visitor, path)
    password = "a-fresh-password-77"
    data = {"password": password, "confirm": password, "csrf_token": token}
    assert visitor.post(path, data=data).status_code == 303
    assert visitor.get("/api/v1/session", headers=bearer(made.secret)).status_code == 401
    db.session.expire_all()
    assert db_session.get(ApiToken, made.token.id).revoked_at is not None
