"""Team webhooks to WeCom and DingTalk group robots: queueing, the robots' format, sending.

The channel itself, as the admin sets it up, is crm.services.notices.webhook_channels.

A delivery is a row (DESIGN.md "Jobs and their actor"): queued as `pending` in the
transaction of the job that wrote it, then claimed (`sending`, committed), then posted,
then marked `sent` in the transaction that reads the robot's answer. A row still
`sending` long after its claim was cut off by a crash: it may have reached the group, so
it is marked failed and never sent again on its own (an admin may send it again).

The robots refuse inside a 200 (`{"errcode": 310000, ...}`), so an answer counts as
accepted only when it is a 2xx whose `errcode`, if any, is 0. A 5xx, a refused or timed
out connection, or a refusal inside the answer is tried again after 1, 5 and 25 minutes,
each time with a fresh DingTalk signature, then the row is failed. Only the answer's status
(and a robot's errcode) is kept, never its body: the address is the admin's to type, and the
body of whatever answers there is not the admin's to read.

A row that cannot be composed or posted at all (an address stored before it was checked, or
one that is no longer public: crm.services.notices.robot_address) is failed at once with its
reason, and the pass goes on with the next row: one bad row never holds up the queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from crm import clock
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import NotificationChannel, User, WebhookDelivery
from crm.services.install import audit
from crm.services.notices import robot_address
from crm.services.notices.one_line import one_line
from crm.services.notices.webhook_channels import url_shape_problem

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
RETRY_AFTER = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=25))
MAX_ATTEMPTS = len(RETRY_AFTER) + 1  # the first sending and three retries
SEND_BATCH = 20
HALF_SENT_AFTER = timedelta(minutes=2)  # far beyond the timeout: no live sender holds it
CONTENT_MAX_BYTES = 2048  # WeCom's limit for a text message; DingTalk's is larger
ANSWER_MAX = 300  # how much of a refusal is kept in last_error
HALF_SENT = "Cut off while sending (the scheduler stopped): it may have arrived, so not resent."
EVENT_LABELS = {
    "digest": _l("Weekly digest"),
    "factory_eligible": _l("Newly eligible factories"),
    "test": _l("Test message"),
}


# --- queueing ------------------------------------------------------------------------------------


def queue(
    channel: NotificationChannel, event: str, key: str | None, text: Callable[[], str]
) -> WebhookDelivery | None:
    """A pending delivery, its text written in the group's language; None if the key was used."""
    if key is not None and db.session.scalar(
        select(WebhookDelivery.id).where(WebhookDelivery.dedupe_key == key)
    ):
        return None
    with force_locale(channel.locale or "zh_Hans"):
        payload = str(text())
    delivery = WebhookDelivery(
        channel_id=channel.id,
        event=event,
        dedupe_key=key,
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=clock.now(),
        last_error="",
    )
    db.session.add(delivery)
    db.session.flush()
    return delivery


def active_channels() -> list[NotificationChannel]:
    return list(
        db.session.scalars(
            select(NotificationChannel)
            .options(joinedload(NotificationChannel.team))
            .where(NotificationChannel.active.is_(True))
            .order_by(NotificationChannel.id)
        )
    )


# --- the robots' format --------------------------------------------------------------------------


def content(channel: NotificationChannel, text: str) -> str:
    """The message's text: with DingTalk's keyword in it, within WeCom's size limit."""
    if channel.kind == "dingtalk" and channel.keyword and channel.keyword not in text:
        text = f"【{channel.keyword}】{text}"
    encoded = text.encode()
    if len(encoded) > CONTENT_MAX_BYTES:
        text = encoded[: CONTENT_MAX_BYTES - 3].decode(errors="ignore") + "…"
    return text


def body(channel: NotificationChannel, text: str) -> dict[str, Any]:
    """The JSON of a text message; both robots take the same shape."""
    return {"msgtype": "text", "text": {"content": content(channel, text)}}


def sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: Base64 of HMAC-SHA256 of "timestamp\\nsecret" keyed by the secret."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def address(channel: NotificationChannel, at: datetime) -> str:
    """Where to post: in DingTalk's signed mode, with the timestamp and signature of `at`."""
    if channel.kind != "dingtalk" or not channel.secret:
        return channel.url
    timestamp = int(at.timestamp() * 1000)
    signature = sign(channel.secret, timestamp)
    query = urllib.parse.urlencode({"timestamp": timestamp, "sign": signature})
    return f"{channel.url}{'&' if '?' in channel.url else '?'}{query}"


# --- sending -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    accepted: bool
    retry: bool
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A robot answers where it is asked; a redirect is an error, never followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_any_host = urllib.request.build_opener(_NoRedirect)
_public_hosts = urllib.request.build_opener(_NoRedirect, robot_address.PublicHTTPSHandler)


def post(url: str, payload: dict[str, Any], *, public_only: bool = True) -> Answer:
    """Post the JSON and judge the answer (no exception escapes: every outcome is an Answer).

    `public_only`: https to a public address alone (crm.services.notices.robot_address).
    """
    try:
        if public_only:
            robot_address.check_scheme(url)
        request = urllib.request.Request(
            url,
            data=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        opener = _public_hosts if public_only else _any_host
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            raw = response.read(64 * 1024)
    except robot_address.Refused as refusal:
        return Answer(False, False, str(refusal)[:ANSWER_MAX])
    except urllib.error.HTTPError as error:
        status = error.code
        retry = status >= 500 or status in (408, 429)
        return Answer(False, retry, f"HTTP {status}")
    except (urllib.error.URLError, OSError) as error:  # refused, timed out, no such host
        reason = getattr(error, "reason", error)
        return Answer(False, True, f"{_('No answer')}: {reason}"[:ANSWER_MAX])
    except (ValueError, UnicodeError) as error:  # an address or a text that cannot be sent
        return Answer(False, False, _("Not sent: %(error)s", error=error)[:ANSWER_MAX])
    try:
        answer = json.loads(raw.decode() or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Answer(True, False)  # a 2xx that is not JSON: the receiver took it
    code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
    if code not in (0, "0", None):
        return Answer(False, True, f"errcode {_status_code(code)}")
    return Answer(True, False)


def _status_code(code: Any) -> str:
    """A robot's errcode as a number: the one part of its answer that is kept."""
    try:
        return str(int(code))
    except (TypeError, ValueError, OverflowError):
        return "?"


def flag_half_sent(now: datetime) -> int:
    """Fail the rows left `sending` by a stopped sender: they may have arrived (at most once)."""
    result = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == "sending",
            WebhookDelivery.claimed_at < now - HALF_SENT_AFTER,
        )
        .values(status="failed", last_error=HALF_SENT)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def claim(delivery_id: int, now: datetime) -> bool:
    """Mark a pending row `sending` and commit; False when another sender took it first.

    The conditional UPDATE is the lock: two senders that race for a row queue on its row
    lock, and the second finds it no longer pending (PostgreSQL re-reads the condition;
    SQLite lets one writer in at a time), so a row is posted by one sender at most.
    """
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending")
        .values(status="sending", attempts=WebhookDelivery.attempts + 1, claimed_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(claimed.rowcount)


def deliver(delivery_id: int, now: datetime, max_attempts: int = MAX_ATTEMPTS) -> str:
    """Claim, send and record one delivery; its outcome: sent, retry, failed or skipped."""
    if not claim(delivery_id, now):
        return "skipped"
    delivery = db.session.scalar(
        select(WebhookDelivery)
        .options(joinedload(WebhookDelivery.channel))
        .where(WebhookDelivery.id == delivery_id)
        .execution_options(populate_existing=True)
    )
    channel = delivery.channel
    if not channel.active and delivery.event != "test":
        delivery.status, delivery.last_error = "failed", _("The channel was turned off.")
        db.session.commit()
        return "failed"
    answer = _post_delivery(delivery, channel)
    if answer.accepted:
        delivery.status, delivery.sent_at, delivery.last_error = "sent", clock.now(), ""
        db.session.commit()
        return "sent"
    delivery.last_error = answer.error
    if answer.retry and delivery.attempts < max_attempts:
        delivery.status = "pending"
        delivery.next_attempt_at = now + RETRY_AFTER[delivery.attempts - 1]
        outcome = "retry"
    else:
        delivery.status = "failed"
        outcome = "failed"
    db.session.commit()
    log.warning("webhook delivery %s not accepted: %s (%s)", delivery_id, answer.error, outcome)
    return outcome


def _post_delivery(delivery: WebhookDelivery, channel: NotificationChannel) -> Answer:
    """Compose and post one claimed row; whatever goes wrong with it becomes its Answer."""
    if problem := url_shape_problem(channel.url):
        return Answer(False, False, problem[:ANSWER_MAX])
    public_only = not robot_address.others_allowed()
    try:
        # Signed at the moment of sending: each retry carries a fresh timestamp and signature.
        return post(
            address(channel, clock.now()), body(channel, delivery.payload), public_only=public_only
        )
    except Exception as error:  # one row, whatever it holds, must not stop the queue
        log.exception("webhook delivery %s could not be composed", delivery.id)
        return Answer(False, False, _("Not sent: %(error)s", error=error)[:ANSWER_MAX])


def send_pending(now: datetime, limit: int = SEND_BATCH) -> dict[str, int]:
    """Send the deliveries that are due, one at a time; commits as it goes.

    A channel that did not answer is left for the next pass, so that one dead robot
    holds a pass up for one timeout, not one per message.
    """
    counts = {"flagged": flag_half_sent(now), "sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    due = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.channel_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    unanswered: set[int] = set()
    for delivery_id, channel_id in due:
        if channel_id in unanswered:
            continue
        outcome = deliver(delivery_id, now)
        counts[outcome] += 1
        if outcome in ("retry", "failed"):
            unanswered.add(channel_id)
    return counts


def send_test(actor: User, channel: NotificationChannel) -> WebhookDelivery:
    """Send a test message at once (one attempt, no retries); the row keeps its outcome."""
    team_name = one_line(channel.team.name)

    def text() -> str:
        return _(
            "Test message from Factory Growth CRM for the team %(team)s: this group will get "
            "the weekly digest and the factories newly ready for their next stage.",
            team=team_name,
        )

    delivery = queue(channel, "test", None, text)
    audit.record(actor, "webhook_delivery", delivery.id, "test", {"channel_id": (None, channel.id)})
    db.session.commit()
    deliver(delivery.id, clock.now(), max_attempts=1)
    return db.session.get(WebhookDelivery, delivery.id)


# --- what the jobs page shows ---------------------------------------------------------------------


@dataclass
class Overview:
    waiting: int
    failed: list[WebhookDelivery]
    failed_total: int


def overview(limit: int = 20) -> Overview:
    counts = dict(
        db.session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.status.in_(("pending", "sending", "failed")))
            .group_by(WebhookDelivery.status)
        ).all()
    )
    failed = db.session.scalars(
        select(WebhookDelivery)
        .options(joinedload(WebhookDelivery.channel).joinedload(NotificationChannel.team))
        .where(WebhookDelivery.status == "failed")
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    ).all()
    waiting = counts.get("pending", 0) + counts.get("sending", 0)
    return Overview(waiting, list(failed), counts.get("failed", 0))


def send_again(actor: User, delivery_id: int, now: datetime) -> WebhookDelivery:
    """An admin sends a failed delivery again: pending at once, with a fresh set of attempts."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(_("No such delivery."))
    if delivery.status != "failed":
        message = _("Only a failed delivery can be sent again.")
        raise Invalid(message, fields={"delivery_id": message})
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now
    delivery.claimed_at = None
    db.session.flush()
    changes = {"status": ("failed", "pending")}
    audit.record(actor, "webhook_delivery", delivery.id, "send_again", changes)
    return delivery
