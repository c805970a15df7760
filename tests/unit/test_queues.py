"""Queues that outlive a bad row: one e-mail or robot message that cannot be composed or sent
is failed with its reason and the pass goes on; a value that reaches an e-mail header or a
robot message is folded onto one line. Mail goes to a real SMTP server (aiosmtpd) and robot
messages to a real HTTP receiver (tests/receiver.py), never mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.extensions import db
from crm.jobs import daily, scheduler
from crm.models import Delivery, Notification, NotificationChannel, WebhookDelivery
from crm.services.notices import mail, webhooks
from tests import builders
from tests.receiver import robot
from tests.unit.test_scheduler import smtp  # noqa: F401  (the real local SMTP server fixture)

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai
POISONED_NAME = "Line1\r\nBcc: x@example.test"
# A robot address saved before the form checked addresses: urllib cannot even build a request.
SCHEMELESS_URL = "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def receiver():
    with robot() as running:
        yield running


@pytest.fixture
def world(db_session):
    builders.allow_local_robots()
    team, other = builders.team("Yongkang hardware team"), builders.team("Wenzhou team")
    rep = builders.user("rep", team_=team, email="rep@example.test")
    belt = builders.belt(team)
    good = builders.factory(belt, owner=rep, name="Hengda Hardware")
    poisoned = builders.factory(belt, owner=rep, name=POISONED_NAME)
    builders.user("manager", leads=[team])
    db_session.commit()
    return {"team": team, "other": other, "rep": rep, "good": good, "poisoned": poisoned}


def channel(team, url: str) -> NotificationChannel:
    made = NotificationChannel(team_id=team.id, kind="wecom", url=url, locale="en", active=True)
    db.session.add(made)
    db.session.flush()
    return made


def planted_email(rep, target: str) -> Delivery:
    """An e-mail queued for an address stored before input was checked (it has a line break)."""
    item = Notification(user_id=rep.id, kind="follow_up_overdue", title="Overdue follow-up")
    db.session.add(item)
    db.session.flush()
    delivery = Delivery(notification_id=item.id, channel="email", target=target, status="pending")
    db.session.add(delivery)
    db.session.flush()
    return delivery


def subject(envelope) -> str:
    return envelope.content.decode().split("Subject: ")[1].split("\r\n")[0]


def test_one_poisoned_email_and_robot_message_do_not_stop_the_queues(
    app,
    world,
    smtp,  # noqa: F811
    receiver,
    clock,
):
    rep = world["rep"]
    # First in each queue: an e-mail to an address with a line break in it, and a message to a
    # robot whose stored address has no scheme. Behind them, good ones.
    bad_email = planted_email(rep, "rep@example.test\r\nBcc: thief@example.test")
    bad_robot = webhooks.queue(
        channel(world["other"], SCHEMELESS_URL), "digest", None, lambda: "To Wenzhou"
    )
    webhooks.queue(channel(world["team"], receiver.url), "digest", None, lambda: "To Yongkang")
    # ... and the case: a follow-up overdue at a factory named with a header in it.
    builders.follow_up(world["poisoned"], rep, NOW - timedelta(minutes=5), "Bring slides")
    builders.follow_up(world["good"], rep, NOW - timedelta(minutes=10), "Bring samples")
    db.session.commit()

    runner = scheduler.Runner(app, holder="queues-test")
    try:
        runner.tick(NOW)
    finally:
        runner.stop()

    # Every good e-mail left, the poisoned factory's name folded onto the subject's line.
    to_rep = sorted(
        subject(envelope) for envelope in smtp.messages if envelope.rcpt_tos == [rep.email]
    )
    assert to_rep == [
        "Overdue follow-up: Hengda Hardware (due 2026-11-25 09:50)",
        "Overdue follow-up: Line1 Bcc: x@example.test (due 2026-11-25 09:55)",
    ]
    assert [envelope.rcpt_tos for envelope in smtp.messages].count([rep.email]) == 2
    assert not any("thief" in str(envelope.rcpt_tos) for envelope in smtp.messages)
    assert not any("\nBcc:" in envelope.content.decode() for envelope in smtp.messages)
    # Every good robot message left: the one queued here, and the day's and the week's news.
    texts = sorted(receiver.texts())
    assert [text.split(":")[0] for text in texts] == [
        "To Yongkang",
        "Weekly digest of Yongkang hardware team",
        "Yongkang hardware team",
    ]
    assert all("\nBcc:" not in text for text in texts)
    # The poisoned ones are failed with their reasons, and nothing stays waiting behind them.
    db.session.expire_all()
    email = db.session.get(Delivery, bad_email.id)
    assert email.status == "failed" and "address" in email.error
    message = db.session.get(WebhookDelivery, bad_robot.id)
    assert message.status == "failed" and "https://" in message.last_error
    waiting = db.session.scalars(select(Delivery).where(Delivery.status == "pending")).all()
    assert waiting == []


def test_the_next_pass_still_sends_after_a_failed_email(world, smtp, clock):  # noqa: F811
    planted_email(world["rep"], "not an address\r\n")
    db.session.commit()
    assert mail.send_pending(NOW) == {"flagged": 0, "sent": 0, "failed": 1, "skipped": 0}
    planted_email(world["rep"], "rep@example.test")
    db.session.commit()
    assert mail.send_pending(NOW)["sent"] == 1
    assert [envelope.rcpt_tos for envelope in smtp.messages] == [["rep@example.test"]]


def test_a_failed_email_goes_again_to_the_users_address_as_it_is_now(
    world,
    smtp,  # noqa: F811
    clock,
):
    admin = builders.user("admin")
    delivery = planted_email(world["rep"], "rep@example.test\nBcc: thief@example.test")
    db.session.commit()
    mail.send_pending(NOW)
    mail.send_again(admin, delivery.id)
    db.session.commit()
    assert mail.send_pending(NOW)["sent"] == 1
    assert [envelope.rcpt_tos for envelope in smtp.messages] == [["rep@example.test"]]
    db.session.refresh(delivery)
    assert (delivery.status, delivery.target, delivery.error) == ("sent", "rep@example.test", "")


def test_a_factory_name_reaches_the_group_robot_on_its_own_line(world, receiver, clock):
    channel(world["team"], receiver.url)
    for factory in (world["good"], world["poisoned"]):
        factory.eligible_since = NOW - timedelta(hours=1)
    db.session.commit()
    assert daily.queue_team_eligible(db.session, NOW) == 1
    db.session.commit()
    webhooks.send_pending(NOW)
    [text] = receiver.texts()
    assert "  • Line1 Bcc: x@example.test\n" in text + "\n"
    assert "\nBcc:" not in text and "\r" not in text


@pytest.mark.parametrize(
    "value, folded",
    [
        ("Line1\r\nBcc: x", "Line1 Bcc: x"),
        ("tab\there", "tab here"),
        (
            "nul\x00bell\x07 del\x7f next\x85 sep\u2028para\u2029end",
            "nul bell  del  next  sep para end",
        ),
        ("厂\ud800名", "厂\ufffd名"),
        ("Hengda Hardware", "Hengda Hardware"),
    ],
)
def test_one_line_folds_breaks_and_control_characters_to_a_space(value, folded):
    from crm.services.notices.one_line import one_line

    assert one_line(value) == folded
