"""Erasure that keeps the record (PIPL Art. 47; issue 23): an admin erases a person, a user who
left or a factory contact who asked. Their name, phone, e-mail and WeChat id are replaced by a
marker in their own row, in the audit log's values and in every free text that named them
(crm.services.privacy.free_text); their sign-in rows go. The row itself stays, so that visits,
tasks and figures keep pointing at it and are shown as a former user's (or an erased contact's).

Irreversible: an erased user is never reactivated. Audited: the entry says who erased whom and
what kinds changed, by counts, never the erased values. The admin first reads the same counts
(`preview_user`, `preview_contact`) and confirms by typing the person's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update

from crm import scope
from crm.errors import Invalid
from crm.extensions import db
from crm.models import (
    ApiToken,
    Contact,
    Delivery,
    LoginAttempt,
    Notification,
    PasswordReset,
    RecoveryCode,
    TwoFactor,
    User,
    UserSession,
)
from crm.services.accounts import credentials
from crm.services.install import audit, audit_retention
from crm.services.privacy import free_text

# What an erased user's name becomes; pages show it as "a former user" (crm.views.templating).
FORMER_USER = "[former user]"
# An erased user's e-mail: unique, on a domain that never receives mail (RFC 2606), and of an
# inactive user with an unusable password: it signs nobody in.
ERASED_EMAIL = "erased-{id}@erased.invalid"
# No hash starts so: werkzeug's check refuses it without trying.
UNUSABLE_PASSWORD = "!erased"


def shown(value):
    """A value as a page shows it: an erased person's marker, stored in place of a name, in the
    reader's words ("a former user"); anything else as it is. Every value a template prints
    passes here (crm.views.templating), and the labels of a form's choices (crm.forms.admin)."""
    if isinstance(value, str) and value in (FORMER_USER, free_text.MARKER):
        return _("a former user") if value == FORMER_USER else _("[erased]")
    return value


@dataclass
class Erasure:
    """What an erasure changes (or changed), by kind: shown before, audited after."""

    account: int = 0  # the person's own row: 1
    audit_entries: int = 0
    notifications: int = 0
    deliveries: int = 0
    free_texts: int = 0  # rows of notes, reasons, messages and imported cells naming them
    sign_ins: int = 0  # sessions, API tokens, reset links, second factor, failed logins

    def as_changes(self) -> dict[str, tuple[None, int]]:
        return {name: (None, value) for name, value in vars(self).items()}


# --- users --------------------------------------------------------------------------------


def user_needles(user: User) -> list[str]:
    return free_text.needles(user.name, user.email, user.phone)


def refusal_for_user(actor: User, user: User) -> str | None:
    """Why this user cannot be erased now, or None."""
    if user.erased_at is not None:
        return _("This user's personal data is already erased.")
    if user.id == actor.id:
        return _("You cannot erase yourself; ask another admin.")
    if user.active:
        return _("Only a deactivated user can be erased: deactivate them first.")
    return None


def preview_user(actor: User, user: User) -> Erasure:
    """What `erase_user` would change, as counts; nothing changes."""
    scope.require(actor, "erase_person")
    return _preview("user", user.id, user_needles(user), sign_ins=_sign_ins(user))


def erase_user(actor: User, user: User, now: datetime, confirmation: str) -> Erasure:
    """Erase a deactivated user's personal data for good; returns what changed. The row stays
    as a former user's."""
    _check(actor, refusal_for_user(actor, user), user.name, confirmation)
    found = user_needles(user)
    done = preview_user(actor, user)
    credentials.end_all(actor, user, now)
    for model, condition in _sign_in_rows(user):
        db.session.execute(delete(model).where(condition), execution_options=_UNSYNCED)
    # Mail still waiting for them would go to the marker: it is not sent.
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.status == "pending",
            Delivery.notification_id.in_(
                select(Notification.id).where(Notification.user_id == user.id)
            ),
        )
        .values(status="failed"),
        execution_options=_UNSYNCED,
    )
    done.audit_entries = _erase_mentions("user", user.id, found)
    user.name = FORMER_USER
    user.email = ERASED_EMAIL.format(id=user.id)
    user.phone = None
    user.password_hash = UNUSABLE_PASSWORD
    user.active = False
    user.email_kinds = None
    user.erased_at = now
    db.session.flush()
    audit.record(actor, "user", user.id, "erase", done.as_changes())
    return done


def _sign_in_rows(user: User) -> list:
    """What lets a user in, or tells of their signing in: (model, which rows)."""
    logins = [login for login in (user.email, user.phone) if login]
    return [
        (UserSession, UserSession.user_id == user.id),
        (ApiToken, ApiToken.user_id == user.id),
        (PasswordReset, PasswordReset.user_id == user.id),
        (RecoveryCode, RecoveryCode.user_id == user.id),
        (TwoFactor, TwoFactor.user_id == user.id),
        (LoginAttempt, LoginAttempt.login.in_(logins)),
    ]


def _sign_ins(user: User) -> int:
    return sum(_count(model, condition) for model, condition in _sign_in_rows(user))


# --- contacts -----------------------------------------------------------------------------


def contact_needles(contact: Contact) -> list[str]:
    return free_text.needles(contact.name, contact.phone, contact.phone_digits, contact.wechat_id)


def refusal_for_contact(contact: Contact) -> str | None:
    if contact.erased_at is not None:
        return _("This contact's personal data is already erased.")
    return None


def preview_contact(actor: User, contact: Contact) -> Erasure:
    """What `erase_contact` would change, as counts; nothing changes."""
    scope.require(actor, "erase_person")
    return _preview("contact", contact.id, contact_needles(contact))


def erase_contact(actor: User, contact: Contact, now: datetime, confirmation: str) -> Erasure:
    """Erase a factory contact's personal data for good; the visits that met them keep the link
    and show the marker."""
    _check(actor, refusal_for_contact(contact), contact.name, confirmation)
    found = contact_needles(contact)
    done = preview_contact(actor, contact)
    done.audit_entries = _erase_mentions("contact", contact.id, found)
    contact.name = free_text.MARKER
    contact.phone = ""
    contact.wechat_id = ""
    contact.erased_at = now
    db.session.flush()
    # The search key is written from the name on every write (crm.services.factories.search_keys):
    # an erased contact is found by nothing.
    db.session.execute(
        update(Contact)
        .where(Contact.id == contact.id)
        .values(search_key="", phone_digits="")
        .execution_options(synchronize_session="fetch")
    )
    audit.record(actor, "contact", contact.id, "erase", done.as_changes())
    return done


# --- shared -------------------------------------------------------------------------------

_UNSYNCED = {"synchronize_session": False}


def _preview(record_type: str, record_id: int, found: list[str], **more: int) -> Erasure:
    return Erasure(
        account=1,
        audit_entries=audit_retention.count_person(record_type, record_id, found),
        **_free_texts(found),
        **more,
    )


def _check(actor: User, refusal: str | None, name: str, confirmation: str) -> None:
    """An admin's, when nothing refuses it, and the admin typed the person's name: an erasure
    is never one click away."""
    scope.require(actor, "erase_person")
    if refusal:
        raise Invalid(refusal)
    if (confirmation or "").strip().casefold() != name.strip().casefold():
        message = _("Type the name exactly as shown to confirm: %(name)s", name=name)
        raise Invalid(message, fields={"confirmation": message})


def _erase_mentions(record_type: str, record_id: int, found: list[str]) -> int:
    """Replace the person's words in free text and in the audit log; returns the audit entries
    changed. The session's records are read again after (the statements went around them)."""
    db.session.flush()
    free_text.replace(found)
    changed = audit_retention.erase_person(record_type, record_id, found)
    db.session.expire_all()
    return changed


def _free_texts(found: list[str]) -> dict[str, int]:
    """The rows of free text naming the person: notifications and e-mails apart, then the rest."""
    rows = free_text.count(found)
    notifications = rows.pop("notifications", 0)
    deliveries = rows.pop("deliveries", 0)
    return {
        "notifications": notifications,
        "deliveries": deliveries,
        "free_texts": sum(rows.values()),
    }


def _count(model, condition) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(condition)) or 0
