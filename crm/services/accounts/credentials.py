"""What ends with a user's password or account: sign-in sessions, API tokens, open reset links.

A new password (changed by the user, or chosen through a reset link) and a deactivation end
every credential the old state gave out, for good: nothing comes back when the user is
reactivated (README "Admins: the console"). The one place that says what "every credential"
is, so that the three callers cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import update
from werkzeug.security import check_password_hash

from crm.errors import Invalid
from crm.extensions import db
from crm.models import PasswordReset, User
from crm.services.accounts import api_tokens, two_factor
from crm.services.accounts import auth as auth_service
from crm.services.install import audit


def end_all(actor: User, user: User, now: datetime, *, keep_session: str | None = None) -> None:
    """End the user's sessions (but the kept one), revoke their API tokens, spend their open
    reset links and forget an authenticator secret that was started but never confirmed."""
    auth_service.end_sessions(user, keep_token=keep_session)
    api_tokens.revoke_all(actor, user, now)
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    two_factor.drop_pending_enrolment(user)


def set_password(user: User, new: str, now: datetime, *, keep_session: str | None = None) -> User:
    """Store a new password; whatever the old one gave out ends (but the kept session)."""
    user.password_hash = auth_service.hash_password(new)
    end_all(user, user, now, keep_session=keep_session)
    return user


def change_password(user: User, current: str, new: str, now: datetime) -> User:
    """Set a new password after checking the current one; the user's other sessions end, and
    every API token (its integrations take a new one)."""
    if not check_password_hash(user.password_hash, current or ""):
        raise Invalid(
            _("Your current password is not right."),
            fields={"current_password": _("This is not your current password.")},
        )
    problem = auth_service.password_problem(new, user.login)
    if problem:
        raise Invalid(problem, fields={"new_password": problem})
    set_password(user, new, now, keep_session=user.current_session_token)
    audit.record(user, "user", user.id, "change_password")
    return user
