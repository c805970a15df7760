"""Team webhooks: the robots' format, keyword and signed modes, retries, and sending at most once.

Every delivery goes to a real HTTP receiver on 127.0.0.1 (tests/receiver.py), never a mock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.jobs import daily, digest, scheduler
from crm.models import AuditEntry, NotificationChannel, WebhookDelivery
from crm.services.notices import webhooks
from tests import builders
from tests.receiver import ACCEPTED, robot

# Monday 30 Nov 2026, 07:00 in Shanghai: the weekly digest's hour.
MONDAY = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
SECRET = "SEC7b1c4f0e2d9a8b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def receiver():
    with robot() as running:
        yield running


@pytest.fixture
def team(db_session):
    builders.allow_local_robots()  # the receiver is http on 127.0.0.1
    team = builders.team("Yongkang hardware team")
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    builders.user("manager", leads=[team])
    builders.factory(belt, owner=rep, name="Hengda Hardware")
    db_session.commit()
    return team


def make_channel(team, url: str, kind: str = "wecom", **fields) -> NotificationChannel:
    channel = NotificationChannel(
        team_id=team.id,
        kind=kind,
        url=url,
        keyword=fields.pop("keyword", ""),
        secret=fields.pop("secret", ""),
        locale=fields.pop("locale", "en"),
        active=fields.pop("active", True),
    )
    db.session.add(channel)
    db.session.commit()
    return channel


def deliveries() -> list[WebhookDelivery]:
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def queue_one(channel, text: str = "Weekly digest of the team") -> WebhookDelivery:
    delivery = webhooks.queue(channel, "digest", None, lambda: text)
    db.session.commit()
    return delivery


def drain(job) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in job(db.session, datetime.now(UTC)):
        db.session.commit()
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value
    return totals


# --- the robots' format -----------------------------------------------------------------------


def test_the_weekly_digest_reaches_a_wecom_robot_as_a_text_message(team, receiver, clock):
    make_channel(team, receiver.url)
    assert drain(digest.run)["team_webhooks"] == 1
    counts = webhooks.send_pending(MONDAY)
    assert counts["sent"] == 1
    [request] = receiver.received
    assert request.path == "/robot/send" and request.query == {"access_token": "t0ken"}
    assert request.content_type.startswith("application/json")
    assert set(request.body) == {"msgtype", "text"} and request.body["msgtype"] == "text"
    text = request.body["text"]["content"]
    assert text.startswith("Weekly digest of Yongkang hardware team: 2026-11-23 to 2026-11-29")
    assert "Stage moves: 0" in text and "Eligible factories waiting: 0" in text
    [delivery] = deliveries()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("sent", 1, MONDAY)


def test_the_digest_and_a_rerun_of_its_week_queue_one_message_per_team(team, receiver, clock):
    make_channel(team, receiver.url)
    other = builders.team("Wenzhou team")
    make_channel(other, receiver.url, active=False)  # turned off: nothing queued for it
    assert drain(digest.run)["team_webhooks"] == 1
    assert drain(digest.run)["team_webhooks"] == 0
    assert [(d.event, d.channel.team_id) for d in deliveries()] == [("digest", team.id)]


def test_newly_eligible_factories_go_to_the_group_once_a_day(team, receiver, clock):
    make_channel(team, receiver.url)
    belt = team.belts[0]
    builders.factory(belt, name="Jinhua Cups", eligible_since=MONDAY - timedelta(hours=3))
    builders.factory(belt, name="Old News Ltd", eligible_since=MONDAY - timedelta(days=3))
    other_belt = builders.belt(builders.team())
    builders.factory(other_belt, name="Not Ours", eligible_since=MONDAY - timedelta(hours=1))
    db.session.commit()
    assert daily.queue_team_eligible(db.session, MONDAY) == 1
    assert daily.queue_team_eligible(db.session, MONDAY + timedelta(hours=2)) == 0  # same day
    db.session.commit()
    webhooks.send_pending(MONDAY)
    [text] = receiver.texts()
    assert text.startswith("Yongkang hardware team: 1 factory is ready for its next stage")
    assert "Jinhua Cups" in text
    assert "Old News Ltd" not in text and "Not Ours" not in text


# --- DingTalk's keyword and signed modes --------------------------------------------------------


def test_keyword_mode_puts_the_teams_keyword_in_the_text(team, receiver, clock):
    channel = make_channel(team, receiver.url, kind="dingtalk", keyword="工厂周报")
    queue_one(channel, "Weekly digest of the team")
    queue_one(channel, "工厂周报: already named")
    webhooks.send_pending(MONDAY)
    first, second = receiver.texts()
    assert "工厂周报" in first and first.endswith("Weekly digest of the team")
    assert second == "工厂周报: already named"  # not added twice
    assert all(request.query == {"access_token": "t0ken"} for request in receiver.received)


def test_signed_mode_signs_with_the_send_time_and_the_secret(team, receiver, clock):
    channel = make_channel(team, receiver.url, kind="dingtalk", secret=SECRET)
    queue_one(channel)
    webhooks.send_pending(MONDAY)
    [request] = receiver.received
    # The known answer: 2026-11-29T23:00:00Z in milliseconds, and DingTalk's recipe.
    assert request.query["timestamp"] == "1795993200000"
    assert request.query["sign"] == "gtHA/z6Cg6+HWQIM89RecF4q9X2uxKAyJtKj4CltkP4="
    # ... sent URL-encoded, the robot's own token kept in front.
    encoded = quote_plus("gtHA/z6Cg6+HWQIM89RecF4q9X2uxKAyJtKj4CltkP4=")
    assert request.raw_query == f"access_token=t0ken&timestamp=1795993200000&sign={encoded}"


def test_each_retry_is_signed_afresh(team, receiver, clock):
    channel = make_channel(team, receiver.url, kind="dingtalk", secret=SECRET)
    receiver.answer((500, {"errmsg": "busy"}), ACCEPTED)
    queue_one(channel)
    webhooks.send_pending(MONDAY)
    clock.move_to(MONDAY + timedelta(minutes=1))
    webhooks.send_pending(MONDAY + timedelta(minutes=1))
    first, second = receiver.received
    later = int((MONDAY + timedelta(minutes=1)).timestamp() * 1000)
    expected = hmac.new(SECRET.encode(), f"{later}\n{SECRET}".encode(), hashlib.sha256).digest()
    assert second.query == {
        "access_token": "t0ken",
        "timestamp": str(later),
        "sign": base64.b64encode(expected).decode(),
    }
    assert first.query["sign"] != second.query["sign"]
    assert deliveries()[0].status == "sent"


# --- failures, retries and at most once ---------------------------------------------------------


@pytest.mark.parametrize(
    "answer, error",
    [
        ((500, {"errmsg": "internal"}), "HTTP 500"),
        ((200, {"errcode": 310000, "errmsg": "keywords not in content"}), "errcode 310000"),
    ],
)
def test_a_refusal_is_retried_three_times_with_back_off_then_failed(
    team, receiver, clock, answer, error
):
    channel = make_channel(team, receiver.url)
    receiver.answer(answer)
    queue_one(channel)
    at = MONDAY
    for attempt, wait in enumerate((None, 1, 5, 25), start=1):
        if wait is not None:
            early = at + timedelta(minutes=wait) - timedelta(seconds=1)
            webhooks.send_pending(early)  # not due yet: nothing leaves
            assert len(receiver.received) == attempt - 1
            at += timedelta(minutes=wait)
            clock.move_to(at)
        webhooks.send_pending(at)
        assert len(receiver.received) == attempt
        [delivery] = deliveries()
        assert delivery.attempts == attempt and error in delivery.last_error
    assert delivery.status == "failed" and delivery.sent_at is None
    clock.move_to(at + timedelta(hours=2))
    webhooks.send_pending(at + timedelta(hours=2))
    assert len(receiver.received) == 4  # failed is final until an admin sends it again
    assert [request.body for request in receiver.received].count(receiver.received[0].body) == 4


def test_a_refused_connection_is_retried(team, clock):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = make_channel(team, f"http://127.0.0.1:{port}/robot/send")
    queue_one(channel)
    assert webhooks.send_pending(MONDAY)["retry"] == 1
    [delivery] = deliveries()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at == MONDAY + timedelta(minutes=1)
    assert delivery.last_error.startswith("No answer")


@pytest.mark.parametrize(
    "scheme_and_host, reason",
    [
        ("https://localhost", "localhost is not a public address (it leads to 127.0.0.1)"),
        ("http://127.0.0.1", "starts with https://"),
    ],
)
def test_an_address_into_the_servers_own_network_is_refused_when_sent_and_not_retried(
    team, receiver, clock, scheme_and_host, reason
):
    # Stored while the install allowed it (or a name that resolves elsewhere by now): the
    # rule holds at each sending, on the address connected to.
    builders.allow_local_robots(False)
    channel = make_channel(team, receiver.url.replace("http://127.0.0.1", scheme_and_host))
    queue_one(channel)
    assert webhooks.send_pending(MONDAY)["failed"] == 1
    assert receiver.received == []
    [delivery] = deliveries()
    assert delivery.status == "failed" and reason in delivery.last_error


def test_nothing_the_receiver_accepted_is_sent_again(team, receiver, clock):
    channel = make_channel(team, receiver.url)
    queue_one(channel)
    assert webhooks.send_pending(MONDAY)["sent"] == 1
    assert webhooks.send_pending(MONDAY)["sent"] == 0
    clock.move_to(MONDAY + timedelta(hours=1))
    assert webhooks.send_pending(MONDAY + timedelta(hours=1))["sent"] == 0
    assert len(receiver.received) == 1


def test_the_scheduler_tick_sends_each_team_message_once(app, team, receiver, clock):
    make_channel(team, receiver.url)
    runner = scheduler.Runner(app, holder="webhooks-test")
    try:
        runner.tick(MONDAY)  # the digest, and the daily sweep, which finds Hengda eligible
        sent = sorted(receiver.texts())
        clock.move_to(MONDAY + timedelta(seconds=30))
        runner.tick(MONDAY + timedelta(seconds=30))
    finally:
        runner.stop()
    assert len(sent) == 2 and sorted(receiver.texts()) == sent
    assert sent[0].startswith("Weekly digest of Yongkang hardware team")
    assert sent[1].startswith("Yongkang hardware team: 1 factory is ready")


def test_a_row_claimed_by_one_sender_is_not_sent_by_another(team, receiver, clock):
    channel = make_channel(team, receiver.url)
    delivery = queue_one(channel)
    assert webhooks.claim(delivery.id, MONDAY) is True
    assert webhooks.claim(delivery.id, MONDAY) is False
    assert webhooks.deliver(delivery.id, MONDAY) == "skipped"
    assert receiver.received == []


def test_a_row_cut_off_while_sending_is_failed_not_resent(team, receiver, clock):
    channel = make_channel(team, receiver.url)
    delivery = queue_one(channel)
    webhooks.claim(delivery.id, MONDAY)  # ... and the scheduler stopped here
    clock.move_to(MONDAY + timedelta(minutes=10))
    counts = webhooks.send_pending(MONDAY + timedelta(minutes=10))
    assert counts["flagged"] == 1 and receiver.received == []
    db.session.refresh(delivery)
    assert delivery.status == "failed" and "not resent" in delivery.last_error


def test_a_channel_turned_off_sends_nothing_more(team, receiver, clock):
    channel = make_channel(team, receiver.url)
    queue_one(channel)
    channel.active = False
    db.session.commit()
    assert webhooks.send_pending(MONDAY)["failed"] == 1
    assert receiver.received == []


def test_an_admin_sends_a_failed_message_again_with_fresh_attempts(team, receiver, clock):
    admin = builders.user("admin")
    channel = make_channel(team, receiver.url)
    delivery = queue_one(channel)
    delivery.status, delivery.attempts = "failed", 4
    db.session.commit()
    webhooks.send_again(admin, delivery.id, MONDAY)
    db.session.commit()
    assert webhooks.send_pending(MONDAY)["sent"] == 1
    db.session.refresh(delivery)
    assert delivery.status == "sent" and delivery.attempts == 1
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.record_type == "webhook_delivery")
    )
    assert entry.actor_id == admin.id and entry.action == "send_again"


def test_a_long_message_is_cut_to_wecoms_limit(team, receiver, clock):
    channel = make_channel(team, receiver.url)
    queue_one(channel, "厂" * 2000)
    webhooks.send_pending(MONDAY)
    [text] = receiver.texts()
    assert len(text.encode()) <= webhooks.CONTENT_MAX_BYTES and text.endswith("…")
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
