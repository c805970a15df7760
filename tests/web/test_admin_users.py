"""The admin's users: find, create, edit, deactivate (sessions end, sign-in refused), reactivate,
and one-time password reset links (the admin never sees or sets a password)."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.models import ApiToken, AuditEntry, Factory, Invitation, PasswordReset, User
from crm.services.accounts import api_tokens, auth, password_resets
from crm.services.portal import invitations
from tests import builders
from tests.unit.test_scheduler import smtp  # noqa: F401  (the real local SMTP server fixture)
from tests.web.helpers import csrf_token, sign_in

NEW_PASSWORD = "a-fresh-password-77"
CONFIRMED = {"confirmed": "1"}  # the deactivation's second step, once the admin has read it


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    return app.test_client(user=user)


@pytest.fixture
def world(db_session):
    team, other = builders.team("East team"), builders.team("West team")
    belt = builders.belt(team)
    admin = builders.user("admin")
    rep = builders.user("rep", team_=team, email="li.na@example.test")
    rep.name, rep.phone = "Li Na", "13800001111"
    world = {
        "team": team,
        "other": other,
        "belt": belt,
        "admin": admin,
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "west_rep": builders.user("rep", team_=other),
        "gone": builders.user("rep", team_=team, active=False),
    }
    db_session.commit()
    return world


@pytest.fixture
def admin_client(app, world, db_session):
    client = signed_in(app, world["admin"])
    db_session.commit()
    return client


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": csrf_token(client, "/admin/"), **data})


def users_listed(client, query: str) -> str:
    response = client.get(f"/admin/users?{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def count_users(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(User))


# --- the list ------------------------------------------------------------------------------------


def test_the_list_searches_by_name_email_and_phone(admin_client, world):
    assert "Li Na" in users_listed(admin_client, "q=li+na")
    assert "Li Na" in users_listed(admin_client, "q=LI.NA@EXAMPLE")
    assert "Li Na" in users_listed(admin_client, "q=138+0000+1111")
    page = users_listed(admin_client, "q=nobody-like-this")
    assert "Li Na" not in page and "No user matches" in page


def test_the_list_filters_by_role_team_belt_and_active_flag(admin_client, world):
    west = world["west_rep"].name
    by_team = users_listed(admin_client, f"team={world['other'].id}")
    assert west in by_team and "Li Na" not in by_team
    by_belt = users_listed(admin_client, f"belt={world['belt'].id}")
    assert "Li Na" in by_belt and world["manager"].name in by_belt and west not in by_belt
    by_role = users_listed(admin_client, "role=manager")
    assert world["manager"].name in by_role and "Li Na" not in by_role
    inactive = users_listed(admin_client, "active=0")
    assert world["gone"].name in inactive and "Li Na" not in inactive


# --- create and edit -----------------------------------------------------------------------------


def test_an_admin_creates_a_rep_without_a_password_and_it_is_audited(
    admin_client, world, db_session
):
    response = post(
        admin_client,
        "/admin/users/new",
        {
            "role": "rep",
            "name": "Wang Fang",
            "email": "Wang.Fang@Example.test",
            "phone": "+86 139 0000 2222",
            "locale": "zh_Hans",
            "team_id": str(world["team"].id),
        },
    )
    assert response.status_code == 303
    user = db_session.scalar(select(User).where(User.name == "Wang Fang"))
    assert (user.email, user.phone, user.team_id, user.locale) == (
        "wang.fang@example.test",
        "13900002222",
        world["team"].id,
        "zh_Hans",
    )
    entry = db_session.scalar(
        select(AuditEntry).where(AuditEntry.record_id == user.id, AuditEntry.action == "create")
    )
    assert entry.actor_id == world["admin"].id and "email" in entry.personal_fields


def test_a_manager_is_made_to_lead_several_teams(admin_client, world, db_session):
    data = {"role": "manager", "name": "Zhao Lei", "email": "zhao@example.test", "locale": ""}
    response = admin_client.post(
        "/admin/users/new",
        data={
            **data,
            "team_ids": [str(world["team"].id), str(world["other"].id)],
            "csrf_token": csrf_token(admin_client, "/admin/"),
        },
    )
    assert response.status_code == 303
    user = db_session.scalar(select(User).where(User.name == "Zhao Lei"))
    assert {team.id for team in user.led_teams} == {world["team"].id, world["other"].id}


@pytest.mark.parametrize(
    ("fields", "field_text"),
    [
        ({"email": "li.na@example.test"}, "another user&#39;s login"),
        ({"email": "", "phone": "138 0000 1111"}, "another user&#39;s login"),
        ({"email": "someone@"}, "name@example.com"),
        ({"email": "someone"}, "name@example.com"),
        ({"email": "", "phone": "call me maybe"}, "11 digits"),
        ({"team_id": ""}, "A rep belongs to one team"),
    ],
)
def test_bad_input_gets_a_message_by_the_field_and_changes_nothing(
    admin_client, world, db_session, fields, field_text
):
    before = count_users(db_session)
    data = {"role": "rep", "name": "Sun Yi", "team_id": str(world["team"].id), **fields}
    response = post(admin_client, "/admin/users/new", data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_text in page and 'class="error"' in page
    assert count_users(db_session) == before


def test_editing_a_user_keeps_its_rules_and_is_audited(admin_client, world, db_session):
    rep = world["rep"]
    refused = post(
        admin_client,
        f"/admin/users/{rep.id}",
        {"name": "Li Na", "email": world["manager"].email, "team_id": str(world["team"].id)},
    )
    assert refused.status_code == 422
    saved = post(
        admin_client,
        f"/admin/users/{rep.id}",
        {"name": "Li Na B", "email": "li.na@example.test", "team_id": str(world["other"].id)},
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)[-3000:]
    db_session.expire_all()
    assert (rep.name, rep.team_id) == ("Li Na B", world["other"].id)
    entry = db_session.scalar(
        select(AuditEntry).where(AuditEntry.record_id == rep.id, AuditEntry.action == "update")
    )
    assert entry.changes["name"] == ["Li Na", "Li Na B"]


# --- deactivation --------------------------------------------------------------------------------


def test_deactivation_ends_a_signed_in_session_on_its_next_request(
    app, admin_client, world, db_session
):
    rep_client = app.test_client()
    assert sign_in(rep_client, world["rep"].email).status_code == 303
    assert rep_client.get("/today").status_code == 200
    response = post(admin_client, f"/admin/users/{world['rep'].id}/deactivate", CONFIRMED)
    assert response.status_code == 303
    after = rep_client.get("/today")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    assert not auth.live_sessions(db_session.get(User, world["rep"].id))


def test_a_deactivated_user_cannot_sign_in_and_is_told_as_for_an_unknown_login(
    app, admin_client, world
):
    post(admin_client, f"/admin/users/{world['rep'].id}/deactivate", CONFIRMED)
    refused = sign_in(app.test_client(), world["rep"].email)
    unknown = sign_in(app.test_client(), "nobody@example.test")
    assert refused.status_code == unknown.status_code == 422
    message = auth.WRONG_LOGIN
    assert html.escape(str(message)) in refused.get_data(as_text=True)
    assert html.escape(str(message)) in unknown.get_data(as_text=True)


def test_a_deactivated_users_api_token_gets_401(app, admin_client, world, db_session):
    made = api_tokens.create(world["rep"], "integration", None)
    db_session.commit()
    bearer = {"Authorization": f"Bearer {made.secret}"}
    assert app.test_client().get("/api/v1/session", headers=bearer).status_code == 200
    post(admin_client, f"/admin/users/{world['rep'].id}/deactivate", CONFIRMED)
    answer = app.test_client().get("/api/v1/session", headers=bearer)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "invalid_token"


def test_deactivating_a_rep_who_owns_factories_without_a_taker_is_refused(
    admin_client, world, db_session
):
    factory = builders.factory(world["belt"], owner=world["rep"])
    db_session.commit()
    response = post(admin_client, f"/admin/users/{world['rep'].id}/deactivate", {})
    assert response.status_code == 422
    assert "Name who takes over" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(User, world["rep"].id).active
    assert db_session.get(Factory, factory.id).owner_id == world["rep"].id


@pytest.mark.parametrize(
    ("taker", "words"), [("gone", "not an active rep"), ("west_rep", "not in the team that holds")]
)
def test_a_handover_to_an_inactive_rep_or_another_teams_rep_is_refused_by_the_field(
    admin_client, world, db_session, taker, words
):
    factory = builders.factory(world["belt"], owner=world["rep"])
    db_session.commit()
    response = post(
        admin_client,
        f"/admin/users/{world['rep'].id}/deactivate",
        {"to_rep": str(world[taker].id)},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert words in page and 'id="to_rep-error"' in page
    db_session.expire_all()
    assert db_session.get(User, world["rep"].id).active
    assert db_session.get(Factory, factory.id).owner_id == world["rep"].id


def test_a_deactivated_user_is_reactivated(admin_client, world, db_session):
    response = post(admin_client, f"/admin/users/{world['gone'].id}/reactivate", {})
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(User, world["gone"].id).active


# --- password reset links ------------------------------------------------------------------------


def issue_link(admin_client, user) -> str:
    response = post(admin_client, f"/admin/users/{user.id}/reset-link", {})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    start = page.index('id="reset-link"')
    value = page[start:].split('value="', 1)[1].split('"', 1)[0]
    return html.unescape(value)


def path_of(link: str) -> str:
    return "/reset/" + link.rsplit("/reset/", 1)[1]


def choose(client, path: str, password: str = NEW_PASSWORD):
    token = csrf_token(client, path)
    return client.post(path, data={"password": password, "confirm": password, "csrf_token": token})


def test_a_reset_link_works_once_and_ends_the_users_other_sessions(
    app, admin_client, world, db_session
):
    other_device = app.test_client()
    sign_in(other_device, world["rep"].email)
    path = path_of(issue_link(admin_client, world["rep"]))
    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    assert choose(visitor, path).status_code == 303
    assert sign_in(app.test_client(), world["rep"].email, NEW_PASSWORD).status_code == 303
    assert other_device.get("/today").status_code == 302  # signed out
    again = visitor.get(path)
    assert again.status_code == 410
    assert "cannot be used" in again.get_data(as_text=True)
    # A second post of the spent link changes nothing either.
    assert choose(app.test_client(), "/login" and path, "another-new-pass-88").status_code == 410
    assert sign_in(app.test_client(), world["rep"].email, NEW_PASSWORD).status_code == 303


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(app, world, db_session):
    link = password_resets.issue(
        world["rep"], by=world["admin"], now=datetime.now(UTC) - timedelta(days=2)
    )
    db_session.commit()
    path = path_of(link)
    response = app.test_client().get(path)
    assert response.status_code == 410
    assert "has expired" in response.get_data(as_text=True)
    assert choose(app.test_client(), path).status_code == 410
    assert sign_in(app.test_client(), world["rep"].email).status_code == 303  # old password


def test_a_tampered_link_gets_a_clear_page(app, admin_client, world):
    path = path_of(issue_link(admin_client, world["rep"]))
    tampered = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    response = app.test_client().get(tampered)
    assert response.status_code == 404
    assert "not valid" in response.get_data(as_text=True)


def test_a_new_link_stops_the_earlier_one(app, admin_client, world, db_session):
    first = path_of(issue_link(admin_client, world["rep"]))
    second = path_of(issue_link(admin_client, world["rep"]))
    assert app.test_client().get(first).status_code == 410
    assert app.test_client().get(second).status_code == 200
    assert db_session.scalar(select(func.count()).select_from(PasswordReset)) == 2


def test_a_weak_password_is_refused_by_its_field_and_the_link_stays_open(app, admin_client, world):
    path = path_of(issue_link(admin_client, world["rep"]))
    client = app.test_client()
    refused = choose(client, path, "short")
    assert refused.status_code == 422 and 'id="password-error"' in refused.get_data(as_text=True)
    assert client.get(path).status_code == 200


def test_the_reset_email_arrives_at_a_real_smtp_server(admin_client, world, smtp):  # noqa: F811
    link = issue_link(admin_client, world["rep"])
    (envelope,) = smtp.messages
    assert envelope.rcpt_tos == ["li.na@example.test"]
    text = envelope.content.decode()
    assert "Subject: Choose a new password" in text
    assert link.startswith("https://crm.example.test/reset/")
    assert link in text.replace("=\r\n", "").replace("=3D", "=")


# --- credentials that end for good ---------------------------------------------------------------


def test_a_reactivated_users_old_api_tokens_stay_revoked(app, admin_client, world, db_session):
    made = api_tokens.create(world["rep"], "integration", None)
    db_session.commit()
    bearer = {"Authorization": f"Bearer {made.secret}"}
    post(admin_client, f"/admin/users/{world['rep'].id}/deactivate", CONFIRMED)
    assert post(admin_client, f"/admin/users/{world['rep'].id}/reactivate", {}).status_code == 303
    answer = app.test_client().get("/api/v1/session", headers=bearer)
    assert answer.status_code == 401 and answer.json["error"]["code"] == "invalid_token"
    db_session.expire_all()
    assert db_session.get(ApiToken, made.token.id).revoked_at is not None
    entry = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "api_token",
            AuditEntry.record_id == made.token.id,
            AuditEntry.action == "revoke",
        )
    )
    assert entry.actor_id == world["admin"].id


def forgot(client, login: str):
    return client.post(
        "/forgot", data={"login": login, "csrf_token": csrf_token(client, "/forgot")}
    )


def test_an_anonymous_forgot_request_does_not_void_the_link_an_admin_issued(
    app, admin_client, world, db_session
):
    path = path_of(issue_link(admin_client, world["rep"]))
    assert forgot(app.test_client(), world["rep"].email).status_code == 200
    assert forgot(app.test_client(), world["rep"].phone).status_code == 200
    visitor = app.test_client()
    assert visitor.get(path).status_code == 200
    assert choose(visitor, path).status_code == 303
    assert sign_in(app.test_client(), world["rep"].email, NEW_PASSWORD).status_code == 303
    # The new password spent every open link of the user, the self-service ones among them.
    db_session.expire_all()
    left = db_session.scalar(
        select(func.count())
        .select_from(PasswordReset)
        .where(PasswordReset.user_id == world["rep"].id, PasswordReset.used_at.is_(None))
    )
    assert left == 0


def test_a_new_admin_link_still_voids_an_earlier_self_service_link(
    app, admin_client, world, db_session
):
    self_service = path_of(password_resets.issue(world["rep"], by=None))
    db_session.commit()
    admins = path_of(issue_link(admin_client, world["rep"]))
    assert app.test_client().get(self_service).status_code == 410
    assert app.test_client().get(admins).status_code == 200


def owner_with_a_link(world, db_session):
    factory = builders.factory(world["belt"], owner=world["rep"], name="Hengda Hardware")
    owner = builders.user("factory", factory=factory)
    invitation, token = invitations.invite(owner, datetime.now(UTC))
    db_session.commit()
    return owner, invitation, f"/invite/{token}"


def join(app, path: str):
    client = app.test_client()
    data = {
        "name": "Chen Jing",
        "login": "chen.jing@hengda.example",
        "password": "hengda-works-2026",
        "csrf_token": csrf_token(client, "/login"),
    }
    return client.post(path, data=data)


def test_deactivating_a_factory_owner_revokes_their_invitation_links_for_good(
    app, admin_client, world, db_session
):
    owner, invitation, path = owner_with_a_link(world, db_session)
    assert post(admin_client, f"/admin/users/{owner.id}/deactivate", CONFIRMED).status_code == 303
    assert app.test_client().get(path).status_code == 404
    assert join(app, path).status_code == 404
    assert post(admin_client, f"/admin/users/{owner.id}/reactivate", {}).status_code == 303
    assert join(app, path).status_code == 404
    assert db_session.scalar(select(User).where(User.email == "chen.jing@hengda.example")) is None
    db_session.expire_all()
    assert db_session.get(Invitation, invitation.id).revoked_by_id == world["admin"].id


def test_an_admin_revokes_an_owners_invitation_link_from_the_owners_page(
    app, admin_client, world, db_session
):
    owner, invitation, path = owner_with_a_link(world, db_session)
    page = admin_client.get(f"/admin/users/{owner.id}").get_data(as_text=True)
    action = f"/admin/invitations/{invitation.id}/revoke"
    assert "Invitation links" in page and action in page
    response = post(admin_client, action, {})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/users/{owner.id}#invitations"
    assert join(app, path).status_code == 404
    assert action not in admin_client.get(f"/admin/users/{owner.id}").get_data(as_text=True)
    entry = db_session.scalar(
        select(AuditEntry).where(
            AuditEntry.record_type == "invitation", AuditEntry.action == "revoke"
        )
    )
    assert entry.record_id == invitation.id and entry.actor_id == world["admin"].id
    again = post(admin_client, action, {})  # revoked already: said, and nothing changes
    assert again.status_code == 422 and "revoked already" in again.get_data(as_text=True)
