"""Password reset links: one-time, expiring, stored hashed; an admin passes them on, or mail does.

An admin never sees or sets a password (DESIGN.md "Admins"): they issue a link, which is shown
to them once and e-mailed to the user where mail is configured. Following the link, the user
chooses a password; the link is then spent and every session, API token and other open link of
the user ends (crm.services.accounts.credentials). The "forgot password" page calls
`issue(user, by=None)` the same way, but such a self-service link, which anyone who knows the
login can ask for, never voids a link that an admin issued: it is made beside it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import clock
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import PasswordReset, User
from crm.services.accounts import auth as auth_service
from crm.services.accounts import credentials
from crm.services.install import audit
from crm.services.notices import mail

log = logging.getLogger(__name__)

VALID_FOR = timedelta(hours=24)


class LinkGone(NotFound):
    """A link that was used, has expired, or belongs to a deactivated user: 410, not 404."""

    status = 410
    code = "gone"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_for(token: str) -> str:
    """The reset page's address: absolute when the install's base URL or the request knows it."""
    base = (current_app.config.get("CRM_BASE_URL") or "").rstrip("/")
    if has_request_context():
        if base:
            return base + url_for("auth.reset_password", token=token)
        return url_for("auth.reset_password", token=token, _external=True)
    with current_app.test_request_context():
        path = url_for("auth.reset_password", token=token)
    return base + path


def issue(user: User, *, by: User | None, now: datetime | None = None) -> str:
    """A new reset link for the user; returns its address. An admin's link voids every earlier
    open one; a self-service link (`by=None`) voids only earlier self-service ones.

    Mailed to the user's e-mail address when a mail server is configured.
    """
    now = now or clock.now()
    if not user.active:
        message = _("Reactivate the user before issuing a reset link.")
        raise Invalid(message, fields={"reset": message})
    earlier = update(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)
    )
    if by is None:
        earlier = earlier.where(PasswordReset.created_by_id.is_(None))
    db.session.execute(earlier.values(used_at=now))
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(
        user_id=user.id,
        created_by_id=by.id if by is not None else None,
        token_hash=_hash(token),
        created_at=now,
        expires_at=now + VALID_FOR,
    )
    db.session.add(reset)
    db.session.flush()
    audit.record(by or "password_reset", "user", user.id, "issue_password_reset")
    url = link_for(token)
    _mail(user, url, reset.expires_at)
    return url


def find(token: str, now: datetime | None = None) -> PasswordReset:
    """The open reset of a link: NotFound for an unknown (or tampered) token, LinkGone for one
    already used, expired, or of a user who was deactivated since."""
    now = now or clock.now()
    reset = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None:
        raise NotFound(_("This reset link is not valid. Check that it was copied whole."))
    if reset.used_at is not None or reset.expires_at <= now or not reset.user.active:
        raise LinkGone(_("This reset link was used already or has expired. Ask for a new one."))
    return reset


def consume(token: str, new_password: str, now: datetime | None = None) -> User:
    """Set the user's new password and spend the link; every session, API token and other open
    reset link of the user ends."""
    now = now or clock.now()
    reset = find(token, now)
    user = reset.user
    problem = auth_service.password_problem(new_password or "", user.login)
    if problem:
        raise Invalid(problem, fields={"password": problem})
    spent = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # the same link used by another request a moment ago
        raise LinkGone(_("This reset link was used already or has expired. Ask for a new one."))
    credentials.set_password(user, new_password, now)
    audit.record(user, "user", user.id, "reset_password")
    return user


def _mail(user: User, url: str, expires_at: datetime) -> None:
    """Send the link at once (it is a secret: it is never kept in a delivery row)."""
    config = current_app.config
    if not config.get("MAIL_SERVER") or not user.email:
        return
    with force_locale(user.locale or "en"):
        subject = _("Choose a new password for Factory Growth CRM")
        text = _(
            "Open this link to choose a new password. It works once, until %(when)s (UTC):"
            "\n\n%(url)s\n\nIf you did not expect this, ignore it: your password stays as it is.",
            when=expires_at.strftime("%Y-%m-%d %H:%M"),
            url=url,
        )
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = user.email
    message["Subject"] = subject
    message.set_content(text)
    try:
        mail.send_now(message)
    except (OSError, smtplib.SMTPException) as error:
        # The admin still sees the link and can pass it on; the mail is only a convenience.
        log.warning("password reset: the mail to user %s failed (%s)", user.id, error)
