"""E-mail: which notifications a user gets by mail, and sending them at most once.

A delivery is a row (DESIGN.md "Jobs and their actor"): queued as `pending` in the same
transaction as its notification, then marked `sending` and committed, then handed to the
SMTP server, then marked `sent`. A row still `sending` when a sender starts was cut off
half-way by a crash: it may or may not have left, so it is flagged and never sent again.
Only the scheduler's leader sends, so a `sending` row found at the start of a pass is
never one that another live sender is holding.

A row that cannot be composed (an address stored before input was checked), or that the
server refuses on its own (a recipient, a sender, the data), is marked `failed` with its
reason and the pass goes on with the next one: one bad row never holds up the queue. An admin
sees it on the jobs page and may send it again. Values that reach a header are folded onto
one line when the mail is composed (crm.services.notices.one_line).

Without CRM_MAIL_SERVER (development) each mail is written to the log instead.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import Delivery, Notification, User
from crm.services.install import audit
from crm.services.notices import inbox
from crm.services.notices.one_line import one_line

log = logging.getLogger(__name__)

# The notifications a user may also get by e-mail, and the ones they get until they choose.
EMAIL_KINDS = {
    "follow_up_due_soon": _l("A follow-up is due within the hour"),
    "follow_up_overdue": _l("A follow-up has become overdue"),
    "factory_stale": _l("A factory of mine has not been visited for too long"),
    "factory_eligible": _l(
        "Each morning, the factories I manage that became ready for their next stage"
    ),
    "digest": _l("The weekly digest of my teams"),
}
DEFAULT_EMAIL_KINDS = ("follow_up_overdue", "factory_eligible", "digest")
# The kinds each role can receive at all, and so may choose among.
ROLE_KINDS = {
    "rep": ("follow_up_due_soon", "follow_up_overdue", "factory_stale"),
    "manager": ("follow_up_due_soon", "follow_up_overdue", "factory_eligible", "digest"),
    "admin": ("follow_up_due_soon", "follow_up_overdue"),
    "factory": (),
}
SEND_BATCH = 50
HALF_SENT = "found half-sent after a stop; not sent again (at most once)"
ERROR_MAX = 2000
# The server refused this one message, which therefore did not leave: the connection goes on.
REFUSED = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPNotSupportedError,
)


# --- preferences ------------------------------------------------------------------------------


def email_kinds(user: User) -> tuple[str, ...]:
    """The kinds this user gets by e-mail: their choice, or the defaults until they choose."""
    chosen = DEFAULT_EMAIL_KINDS if user.email_kinds is None else user.email_kinds
    return tuple(kind for kind in EMAIL_KINDS if kind in chosen)


def choices_for(user: User) -> list[tuple[str, str]]:
    """The e-mails this user may choose, as (kind, label) in the current language."""
    return [(kind, str(EMAIL_KINDS[kind])) for kind in ROLE_KINDS.get(user.role, ())]


def set_email_kinds(actor: User, user: User, kinds: Iterable[str]) -> User:
    """A user chooses which notifications also come by e-mail (only their own)."""
    if actor.id != user.id:
        raise Invalid(_("Only the user chooses their own e-mails."))
    chosen = set(kinds)
    unknown = chosen - set(ROLE_KINDS.get(user.role, ()))
    if unknown:
        message = _("Choose among the listed e-mails.")
        raise Invalid(message, fields={"kinds": message})
    before = list(email_kinds(user))
    user.email_kinds = [kind for kind in EMAIL_KINDS if kind in chosen]
    db.session.flush()
    audit.record(
        actor,
        "user",
        user.id,
        "email_kinds",
        audit.diff({"email_kinds": before}, {"email_kinds": user.email_kinds}),
    )
    return user


# --- queueing -----------------------------------------------------------------------------------


def queue(notifications: Iterable[Notification], users: dict[int, User]) -> list[Delivery]:
    """A pending e-mail delivery for each notification whose user wants its kind by mail.

    Call it in the transaction that writes the notifications (they must be flushed).
    """
    made = []
    for item in notifications:
        user = users.get(item.user_id)
        if user is None or not user.active or not user.email:
            continue
        if item.kind not in email_kinds(user):
            continue
        made.append(
            Delivery(notification_id=item.id, channel="email", target=user.email, status="pending")
        )
    db.session.add_all(made)
    return made


# --- sending --------------------------------------------------------------------------------------


def flag_half_sent() -> int:
    """Flag every e-mail left `sending` by a stopped sender; commits."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.channel == "email", Delivery.status == "sending")
        .values(status="flagged", error=HALF_SENT)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount or 0


def send_pending(now: datetime, limit: int | None = None) -> dict[str, int]:
    """Send pending e-mails, each marked and committed before it leaves; commits as it goes."""
    counts = {"flagged": flag_half_sent(), "sent": 0, "failed": 0, "skipped": 0}
    while limit is None or counts["sent"] + counts["failed"] < limit:
        ids = db.session.scalars(
            select(Delivery.id)
            .where(Delivery.channel == "email", Delivery.status == "pending")
            .order_by(Delivery.id)
            .limit(SEND_BATCH)
        ).all()
        if not ids:
            break
        try:
            with _transport() as transport:
                for delivery_id in ids:
                    outcome = _send_one(transport, delivery_id, now)
                    counts[outcome] += 1
        except (OSError, smtplib.SMTPException) as error:
            # The server is out of reach or dropped us: the rest stay pending for the next pass.
            db.session.rollback()
            log.warning(
                "e-mail: the mail server failed (%s); the rest wait for the next pass", error
            )
            break
    return counts


def _send_one(transport: _Transport, delivery_id: int, now: datetime) -> str:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return "skipped"
    try:
        item = db.session.scalar(
            select(Notification)
            .options(joinedload(Notification.user))
            .where(Notification.id == delivery.notification_id)
        )
        message = compose(item, delivery.target)
        message.as_bytes()  # a header that cannot be written fails here, before it is marked
    except Exception as error:  # one row, whatever it holds, must not stop the queue
        log.exception("e-mail delivery %s could not be composed", delivery_id)
        return _fail(delivery_id, _("Not composed: %(error)s", error=error))
    delivery.status = "sending"
    delivery.attempts += 1
    db.session.commit()  # marked before it leaves: a stop from here on flags it, never resends
    try:
        transport.send(message)
    except REFUSED as error:
        return _fail(delivery_id, str(error))
    except (smtplib.SMTPException, OSError) as error:
        # Cut off while sending: it may have left. At most once, so flag it and stop the batch.
        delivery.status, delivery.error = "flagged", f"{HALF_SENT}: {error}"[:ERROR_MAX]
        db.session.commit()
        raise
    except Exception as error:  # raised while the message was written out: it did not leave
        log.exception("e-mail delivery %s could not be sent", delivery_id)
        outcome = _fail(delivery_id, _("Not sent: %(error)s", error=error))
        transport.reset()
        return outcome
    delivery.status, delivery.sent_at, delivery.error = "sent", now, ""
    db.session.commit()
    return "sent"


def _fail(delivery_id: int, reason: str) -> str:
    """Mark one delivery failed with its reason and commit; the pass goes on with the next."""
    db.session.rollback()
    delivery = db.session.get(Delivery, delivery_id)
    delivery.status, delivery.error = "failed", reason[:ERROR_MAX]
    db.session.commit()
    log.warning("e-mail delivery %s failed: %s", delivery_id, reason)
    return "failed"


def recipient(target: str) -> Address:
    """The one address a delivery goes to; ValueError when the stored text is not one."""
    try:
        address = Address(addr_spec=target)
    except (ValueError, IndexError, HeaderParseError) as error:
        raise ValueError(
            _("%(target)s is not one e-mail address (%(error)s).", target=repr(target), error=error)
        ) from error
    if not address.username or not address.domain:
        raise ValueError(_("%(target)s is not one e-mail address.", target=repr(target)))
    return address


def compose(item: Notification, to: str) -> EmailMessage:
    """The e-mail of a notification, in its reader's language, with a link back when known."""
    user = item.user
    config = current_app.config
    address = recipient(to)
    with force_locale(user.locale or "en"):
        lines = [item.body] if item.body else []
        base = (config.get("CRM_BASE_URL") or "").rstrip("/")
        if base:
            lines.append(_("Open it: %(url)s", url=base + inbox.target_path(item, user)))
        lines.append(
            "-- \n"
            + _("Choose which notifications come by e-mail on your account page.")
            + (f" {base}/account/" if base else "")
        )
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = address
    message["Subject"] = one_line(item.title)
    message.set_content("\n\n".join(lines))
    return message


# --- what the jobs page shows, and sending again -------------------------------------------------


@dataclass
class Overview:
    failed: list[Delivery]
    failed_total: int


def overview(limit: int = 20) -> Overview:
    """The e-mails that failed, newest first, each with its notification and its reader."""
    total = db.session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.channel == "email", Delivery.status == "failed")
    )
    failed = db.session.scalars(
        select(Delivery)
        .options(joinedload(Delivery.notification).joinedload(Notification.user))
        .where(Delivery.channel == "email", Delivery.status == "failed")
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(limit)
    ).all()
    return Overview(list(failed), total or 0)


def send_again(actor: User, delivery_id: int) -> Delivery:
    """An admin sends a failed e-mail again: pending at once, to the reader's address as it is now.

    The address is read again because a wrong one is the usual reason that it failed.
    """
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.channel != "email":
        raise NotFound(_("No such delivery."))
    if delivery.status != "failed":
        message = _("Only a failed delivery can be sent again.")
        raise Invalid(message, fields={"delivery_id": message})
    user = delivery.notification.user
    if not user.active or not user.email:
        message = _("%(name)s no longer gets e-mail: there is nowhere to send it.", name=user.name)
        raise Invalid(message, fields={"delivery_id": message})
    before = {"status": delivery.status, "target": delivery.target}
    delivery.status, delivery.target = "pending", user.email
    db.session.flush()
    changes = audit.diff(before, {"status": delivery.status, "target": delivery.target})
    audit.record(actor, "delivery", delivery.id, "send_again", changes, personal=("target",))
    return delivery


def send_now(message: EmailMessage) -> None:
    """Send one message at once, outside the delivery rows: for a secret (a password reset
    link) that must never be stored. Raises OSError or SMTPException when the server fails."""
    with _transport() as transport:
        transport.send(message)


class _Transport:
    """One SMTP connection for a batch, or the log when no server is configured."""

    def __init__(self, smtp: smtplib.SMTP | None) -> None:
        self.smtp = smtp

    def reset(self) -> None:
        """End a half-made transaction (RSET), so that the next message starts afresh."""
        if self.smtp is not None:
            self.smtp.rset()

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            log.info(
                "e-mail (CRM_MAIL_SERVER not set, so not sent) to %s: %s\n%s",
                message["To"],
                message["Subject"],
                message.get_content(),
            )
            return
        self.smtp.send_message(message)


@contextmanager
def _transport() -> Iterator[_Transport]:
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        yield _Transport(None)
        return
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
    try:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        yield _Transport(smtp)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
