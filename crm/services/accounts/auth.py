"""Sign-in rules: logins, passwords, lockout, and sign-in sessions as rows (DESIGN.md "Sign-in")."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, Update, bindparam, delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from crm import cache, statements
from crm.clock import now as clock_now
from crm.errors import Invalid, Locked, too_long, too_short
from crm.extensions import db
from crm.models import LoginAttempt, TwoFactor, User, UserSession
from crm.models.user import EMAIL_MAX
from crm.services.install import audit
from crm.values import national_digits

PASSWORD_MIN = 10
PASSWORD_MAX = 128
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
SEEN_EVERY = timedelta(minutes=1)  # how often a session's "last seen" is written
WRONG_LOGIN = _l("That login and password do not match. Check both and try again.")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# --- logins -------------------------------------------------------------------------------


def normalise_email(raw: str) -> str:
    return (raw or "").strip().lower()


def normalise_phone(raw: str) -> str:
    """A mainland mobile number's digits, without a +86 / 0086 country prefix."""
    return national_digits(raw)


def normalise_login(raw: str) -> str:
    raw = (raw or "").strip()
    return normalise_email(raw) if "@" in raw else normalise_phone(raw)


def find_user_by_login(login: str) -> User | None:
    value = normalise_login(login)
    if not value:
        return None
    column = User.email if "@" in value else User.phone
    return db.session.scalar(select(User).where(column == value))


def email_problem(email: str) -> str | None:
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        return _("Enter an e-mail address such as name@example.com.")
    return None


def phone_problem(phone: str) -> str | None:
    if not re.fullmatch(r"1\d{10}", phone):
        return _("Enter a mainland mobile number of 11 digits, starting with 1.")
    return None


# --- passwords ----------------------------------------------------------------------------


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("crm.data").joinpath("common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    )


def password_problem(password: str, login: str = "") -> str | None:
    if len(password) < PASSWORD_MIN:
        return too_short(_("Password"), PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return too_long(_("Password"), PASSWORD_MAX)
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) < 4:
        return _("This password is too common; choose one that others would not guess.")
    if login and normalise_login(login) and normalise_login(login) in lowered:
        return _("Do not use your login in your password.")
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


@functools.cache
def _stand_in_hash() -> str:
    # Checked against when the login is unknown, so that both cases cost the same.
    return hash_password(secrets.token_urlsafe(16))


# --- lockout and authentication -----------------------------------------------------------


def lockout_remaining(login: str, address: str, now: datetime) -> timedelta | None:
    """How long the pair of login and address stays locked, or None when it is not."""
    recent = select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.login == login,
        LoginAttempt.address == address,
        LoginAttempt.at > now - LOCKOUT_WINDOW,
    )
    count, latest = db.session.execute(recent).one()
    if count < LOCKOUT_FAILURES or latest is None:
        return None
    return latest + LOCKOUT_WINDOW - now


def authenticate(login: str, password: str, address: str, now: datetime | None = None) -> User:
    """The active user with this login and password, or Invalid/Locked with one message for all."""
    now = now or clock_now()
    key = normalise_login(login)[:EMAIL_MAX] or (login or "").strip().lower()[:EMAIL_MAX]
    remaining = lockout_remaining(key, address, now)
    if remaining is not None:
        minutes = max(1, int(remaining.total_seconds() // 60) + 1)
        raise Locked(
            _(
                "Too many failed sign-ins from here. Wait %(minutes)d minutes and try again.",
                minutes=minutes,
            ),
            retry_after=int(remaining.total_seconds()) + 1,
        )
    user = find_user_by_login(login)
    known = user is not None and user.active
    hashed = user.password_hash if known else _stand_in_hash()
    if not check_password_hash(hashed, password or "") or not known:
        db.session.add(LoginAttempt(login=key, address=address, at=now))
        raise Invalid(WRONG_LOGIN, fields={"password": WRONG_LOGIN})
    db.session.execute(
        delete(LoginAttempt).where(LoginAttempt.login == key, LoginAttempt.address == address)
    )
    user.last_login_at = now
    return user


# --- sessions -----------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    user: User, user_agent: str, address: str, second_factor_at: datetime | None = None
) -> str:
    """Record a sign-in and return the token its cookies will carry.

    `second_factor_at`: when this sign-in passed the second factor
    (crm.services.accounts.two_factor).
    """
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_token_hash(token),
            user_agent=(user_agent or "")[:300],
            address=(address or "")[:64],
            created_at=clock_now(),
            last_seen_at=clock_now(),
            second_factor_at=second_factor_at,
        )
    )
    user.current_session_token = token
    return token


@dataclass(frozen=True)
class SignIn:
    """What a signed-in request's one query read of its session (User.current_sign_in)."""

    session_id: int
    second_factor_at: datetime | None  # when this session passed the second factor
    factor_on: bool  # the user has a confirmed second factor
    seen_due: bool  # "last seen" is older than SEEN_EVERY: the caller writes it (seen_statement)


def load_session(token: str, now: datetime | None = None) -> User | None:
    """The user of a live session, or None when it was ended or the user deactivated.

    One query reads the session, its user, whether the user has a second factor and the
    version of what each process keeps (crm.cache): a signed-in request's fixed cost.
    """
    if not token:
        return None
    row = db.session.execute(_session_query(), {"token_hash": _token_hash(token)}).first()
    if row is None:
        return None
    cache.note_version(row.cache_version)
    user = row.User
    if not user.active:
        return None
    now = now or clock_now()
    user.current_session_token = token
    user.current_sign_in = SignIn(
        session_id=row.id,
        second_factor_at=row.second_factor_at,
        factor_on=row.confirmed_at is not None,
        seen_due=now - row.last_seen_at > SEEN_EVERY,
    )
    return user


@statements.once
def _session_query() -> Select:
    """load_session's query, built once: a request pays for its execution only."""
    return (
        select(
            UserSession.id,
            UserSession.last_seen_at,
            UserSession.second_factor_at,
            User,
            TwoFactor.confirmed_at,
            cache.version_column(),
        )
        .join(User, User.id == UserSession.user_id)
        .outerjoin(TwoFactor, TwoFactor.user_id == User.id)
        .where(UserSession.token_hash == bindparam("token_hash"), UserSession.revoked_at.is_(None))
    )


def seen_statement(session_id: int, now: datetime) -> Update:
    """Write a session's "last seen", unless another request wrote it within SEEN_EVERY or
    (on PostgreSQL) is writing it now: the write is skipped rather than waited for."""
    due = (
        select(UserSession.id)
        .where(UserSession.id == session_id, UserSession.last_seen_at < now - SEEN_EVERY)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return update(UserSession).where(UserSession.id == due).values(last_seen_at=now)


def current_session(user: User) -> UserSession | None:
    if not user.current_session_token:
        return None
    return db.session.scalar(
        select(UserSession).where(UserSession.token_hash == _token_hash(user.current_session_token))
    )


def end_session(token: str) -> None:
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _token_hash(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=clock_now())
    )


def end_sessions(user: User, keep_token: str | None = None) -> int:
    """End every session of a user, or all but the one whose token is kept."""
    statement = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep_token:
        statement = statement.where(UserSession.token_hash != _token_hash(keep_token))
    return db.session.execute(statement.values(revoked_at=clock_now())).rowcount


def end_device_session(user: User, session_id: int) -> bool:
    """End one of the user's own sessions by its row id; another user's id ends nothing."""
    ended = db.session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.revoked_at.is_(None),
        )
        .values(revoked_at=clock_now())
    )
    return ended.rowcount == 1


def live_sessions(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


# --- language ------------------------------------------------------------------------------


def set_locale(user: User, locale: str | None) -> None:
    before = user.locale
    user.locale = locale or None
    if before != user.locale:
        audit.record(user, "user", user.id, "set_locale", {"locale": (before, user.locale)})
