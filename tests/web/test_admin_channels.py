"""The admin's team channel page: set up, change, turn off and test a group robot; refusals by
the field; who may reach it; failed messages on the jobs page and sending them again."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.models import AuditEntry, NotificationChannel, WebhookDelivery
from crm.services.accounts import auth
from crm.services.notices import webhooks
from tests import builders
from tests.receiver import robot
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
SECRET = "SEC7b1c4f0e2d9a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"
GOOD = {
    "kind": "dingtalk",
    "url": "https://oapi.dingtalk.com/robot/send?access_token=abc123",
    "keyword": "工厂周报",
    "secret": SECRET,
    "locale": "zh_Hans",
    "active": "y",
}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    return app.test_client(user=user)


@pytest.fixture
def world(app, db_session):
    team, other = builders.team("Yongkang hardware team"), builders.team("Wenzhou team")
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep)
    people = {
        "admin": builders.user("admin"),
        "manager": builders.user("manager", leads=[team]),
        "manager_other": builders.user("manager", leads=[other]),
        "rep": rep,
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"team": team, "other": other, **people}


@pytest.fixture
def admin_client(app, world, db_session):
    client = signed_in(app, world["admin"])
    db_session.commit()
    return client


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, data: dict[str, str]):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/account/")})


def page_of(team) -> str:
    return f"/admin/teams/{team.id}/channel"


def channels(db_session) -> list[NotificationChannel]:
    return list(db_session.scalars(select(NotificationChannel)))


# --- setting it up ------------------------------------------------------------------------------


def test_the_admin_sets_up_a_signed_dingtalk_robot_and_never_sees_the_secret_again(
    admin_client, world, db_session
):
    team = world["team"]
    listing = text_of(admin_client.get("/admin/channels"))
    assert "Yongkang hardware team" in listing and "No group robot" in listing
    response = post(admin_client, page_of(team), GOOD)
    assert response.status_code == 303
    [channel] = channels(db_session)
    assert (channel.team_id, channel.kind, channel.keyword) == (team.id, "dingtalk", "工厂周报")
    assert channel.url == GOOD["url"] and channel.secret == SECRET and channel.active
    page = text_of(admin_client.get(page_of(team)))
    assert SECRET not in page and "ending …4a3b" in page
    assert GOOD["url"] in page and "Channel saved for Yongkang hardware team." in page
    entry = db_session.scalar(
        select(AuditEntry).where(AuditEntry.record_type == "notification_channel")
    )
    assert entry.actor_id == world["admin"].id and entry.action == "create"
    assert SECRET not in str(entry.changes) and "abc123" not in str(entry.changes)
    assert entry.changes["signed"] == [None, True]


def test_an_empty_secret_keeps_the_stored_one_and_remove_clears_it(admin_client, world, db_session):
    team = world["team"]
    post(admin_client, page_of(team), GOOD)
    assert post(admin_client, page_of(team), {**GOOD, "secret": ""}).status_code == 303
    assert channels(db_session)[0].secret == SECRET
    response = post(admin_client, page_of(team), {**GOOD, "secret": "", "remove_secret": "y"})
    assert response.status_code == 303
    db_session.expire_all()
    assert channels(db_session)[0].secret == ""


def test_the_admin_turns_the_channel_off(admin_client, world, db_session):
    team = world["team"]
    post(admin_client, page_of(team), GOOD)
    off = {name: value for name, value in GOOD.items() if name != "active"}
    assert post(admin_client, page_of(team), off).status_code == 303
    db_session.expire_all()
    assert channels(db_session)[0].active is False
    assert "Turned off" in text_of(admin_client.get("/admin/channels"))


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"url": "ftp://files.example.com/robot"}, "url", "starts with https://"),
        ({"url": "javascript:alert(1)"}, "url", "starts with https://"),
        ({"url": "https://"}, "url", "starts with https://"),
        # Only https to a public host (DESIGN.md: the robot's address is no way into the network).
        ({"url": "http://oapi.dingtalk.com/robot/send"}, "url", "starts with https://"),
        ({"url": "https://127.0.0.1:8080/robot"}, "url", "leads to 127.0.0.1"),
        ({"url": "https://10.1.2.3/robot"}, "url", "leads to 10.1.2.3"),
        ({"url": "https://192.168.1.20/robot"}, "url", "leads to 192.168.1.20"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "url", "leads to 169.254.169.254"),
        ({"url": "https://[::1]:8443/robot"}, "url", "leads to ::1"),
        ({"url": "https://[::ffff:127.0.0.1]/robot"}, "url", "not a public address"),
        ({"url": "https://224.0.0.1/robot"}, "url", "leads to 224.0.0.1"),
        ({"url": "https://0.0.0.0/robot"}, "url", "leads to 0.0.0.0"),
        ({"url": "https://localhost:8443/robot"}, "url", "localhost is not a public address"),
        ({"url": ""}, "url", "Enter the robot's webhook address."),
        ({"url": "https://oapi.dingtalk.com/" + "a" * 500}, "url", "Use at most 500"),
        ({"keyword": "k" * 21}, "keyword", "Use at most 20 characters (now 21)."),
        ({"kind": "wecom", "secret": ""}, "keyword", "A WeCom robot has no keyword"),
        ({"kind": "slack"}, "kind", "Choose WeCom or DingTalk."),
        ({"secret": "S" * 101}, "secret", "Use at most 100 characters"),
    ],
)
def test_bad_input_gets_a_message_by_its_field_and_changes_nothing(
    admin_client, world, db_session, changes, field, message
):
    team = world["team"]
    post(admin_client, page_of(team), {**GOOD, "keyword": "", "url": "https://a.example/robot"})
    before = [(c.kind, c.url, c.keyword, c.secret, c.active) for c in channels(db_session)]
    audits = db_session.scalar(select(func.count()).select_from(AuditEntry))
    response = post(admin_client, page_of(team), {**GOOD, **changes})
    assert response.status_code == 422
    page = text_of(response)
    assert f'id="{field}-error"' in page and message in page
    assert "Not saved: correct the fields marked below." in page
    db_session.expire_all()
    assert [(c.kind, c.url, c.keyword, c.secret, c.active) for c in channels(db_session)] == before
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == audits


def test_a_bad_first_setup_stores_no_channel(admin_client, world, db_session):
    response = post(admin_client, page_of(world["team"]), {**GOOD, "url": "ftp://x.example/"})
    assert response.status_code == 422 and channels(db_session) == []


# --- the test message ---------------------------------------------------------------------------


def test_a_test_message_reaches_the_robot_and_says_so(admin_client, world, db_session):
    builders.allow_local_robots()
    team = world["team"]
    with robot() as receiver:
        post(admin_client, page_of(team), {**GOOD, "url": receiver.url, "secret": ""})
        response = post(admin_client, page_of(team) + "/test", {})
        assert response.status_code == 303
        page = text_of(admin_client.get(page_of(team)))
    [request] = receiver.received
    assert request.body["msgtype"] == "text" and "工厂周报" in request.body["text"]["content"]
    assert "Yongkang hardware team" in request.body["text"]["content"]
    assert "The robot took the test message" in page


def test_a_refused_test_message_shows_the_robots_status_alone(admin_client, world, db_session):
    builders.allow_local_robots()
    team = world["team"]
    with robot() as receiver:
        receiver.answer((200, {"errcode": 310000, "errmsg": "sign not match"}))
        post(admin_client, page_of(team), {**GOOD, "url": receiver.url})
        post(admin_client, page_of(team) + "/test", {})
        page = text_of(admin_client.get(page_of(team)))
    assert len(receiver.received) == 1  # a test is tried once, at once
    assert "did not take the test message (errcode 310000)" in page
    assert "sign not match" not in page
    [delivery] = db_session.scalars(select(WebhookDelivery)).all()
    assert (delivery.event, delivery.status, delivery.attempts) == ("test", "failed", 1)


def test_a_test_message_never_shows_the_body_of_what_answered(admin_client, world, db_session):
    # Whatever answers at the address is not the admin's to read through the robot's test.
    builders.allow_local_robots()
    team = world["team"]
    with robot() as receiver:
        receiver.answer((500, {"password": "s3cret-of-the-service-that-answered"}))
        post(admin_client, page_of(team), {**GOOD, "url": receiver.url, "secret": ""})
        post(admin_client, page_of(team) + "/test", {})
        page = text_of(admin_client.get(page_of(team)))
        jobs = text_of(admin_client.get("/admin/jobs"))
    assert "did not take the test message (HTTP 500)" in page
    assert "s3cret" not in page and "s3cret" not in jobs


def test_a_test_message_to_a_loopback_address_is_refused_without_a_connection(
    admin_client, world, db_session
):
    # Saved while the install allowed other hosts; refused when sent once it does not.
    team = world["team"]
    with robot() as receiver:
        local = receiver.url.replace("http://127.0.0.1", "https://localhost")
        db_session.add(
            NotificationChannel(team_id=team.id, kind="wecom", url=local, locale="en", active=True)
        )
        db_session.commit()
        post(admin_client, page_of(team) + "/test", {})
        page = text_of(admin_client.get(page_of(team)))
    assert receiver.received == []
    assert "localhost is not a public address (it leads to 127.0.0.1)" in page


def test_a_test_before_any_setup_asks_to_save_first(admin_client, world):
    response = post(admin_client, page_of(world["team"]) + "/test", {})
    assert response.status_code == 303
    assert "Save the channel first" in text_of(admin_client.get(page_of(world["team"])))


# --- who may reach it -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, status",
    [("rep", 403), ("factory_user", 404), ("manager_other", 403), ("manager", 403)],
)
def test_only_an_admin_reaches_a_teams_channel(app, world, db_session, who, status):
    # DESIGN.md "Who may do what": teams and settings are the admin's, not the team's managers'.
    client = signed_in(app, world[who])
    db_session.commit()
    team = world["team"]
    assert client.get(page_of(team)).status_code == status
    assert post(client, page_of(team), GOOD).status_code == status
    assert post(client, page_of(team) + "/test", {}).status_code == status
    assert client.get("/admin/channels").status_code == status
    assert channels(db_session) == []


def test_a_team_that_does_not_exist_is_404(admin_client):
    assert admin_client.get("/admin/teams/999999/channel").status_code == 404


# --- failed messages on the jobs page -------------------------------------------------------


def test_a_failed_message_shows_on_the_jobs_page_and_goes_out_again(
    admin_client, world, db_session
):
    builders.allow_local_robots()
    team = world["team"]
    with robot() as receiver:
        receiver.answer((500, {"errmsg": "down"}))
        post(admin_client, page_of(team), {**GOOD, "url": receiver.url, "secret": ""})
        channel = channels(db_session)[0]
        delivery = webhooks.queue(channel, "digest", "digest:test", lambda: "Weekly digest")
        db_session.commit()
        for _attempt in range(webhooks.MAX_ATTEMPTS):
            db_session.get(WebhookDelivery, delivery.id).next_attempt_at = NOW
            db_session.commit()
            webhooks.send_pending(NOW)
        assert len(receiver.received) == 4
        db_session.refresh(delivery)
        assert delivery.status == "failed"
        page = text_of(admin_client.get("/admin/jobs"))
        assert "Team group messages" in page and "failed: 1" in page
        assert "Yongkang hardware team" in page and "Weekly digest" in page
        assert "HTTP 500" in page and "Send again" in page
        response = post(
            admin_client, "/admin/jobs/webhooks/send-again", {"delivery_id": delivery.id}
        )
        assert response.status_code == 303
        db_session.refresh(delivery)
        assert (delivery.status, delivery.attempts) == ("pending", 0)
        receiver.answer((200, {"errcode": 0, "errmsg": "ok"}))
        assert webhooks.send_pending(NOW)["sent"] == 1
    assert "No failed messages." in text_of(admin_client.get("/admin/jobs"))


def test_send_again_refuses_a_message_that_did_not_fail(admin_client, world, db_session):
    team = world["team"]
    post(admin_client, page_of(team), GOOD)
    delivery = webhooks.queue(channels(db_session)[0], "digest", None, lambda: "x")
    db_session.commit()
    response = post(admin_client, "/admin/jobs/webhooks/send-again", {"delivery_id": delivery.id})
    assert response.status_code == 422
    assert "Only a failed delivery can be sent again." in text_of(response)
    bad = post(admin_client, "/admin/jobs/webhooks/send-again", {"delivery_id": "abc"})
    assert bad.status_code == 422


def test_the_admin_home_links_to_the_team_group_chats(admin_client):
    page = text_of(admin_client.get("/admin/"))
    assert 'href="/admin/channels"' in page
