"""People who sign in: users, their sign-in sessions and the failed-login counts."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow

ROLES = ("admin", "manager", "rep", "factory")
STAFF_ROLES = ("admin", "manager", "rep")
NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 20
LOCALE_MAX = 10
LOCALES = ("en", "zh_Hans")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_login"),
        CheckConstraint(
            "role != 'factory' OR factory_id IS NOT NULL", name="factory_user_has_factory"
        ),
        CheckConstraint(
            "role = 'factory' OR factory_id IS NULL", name="only_factory_users_have_factory"
        ),
        CheckConstraint("role = 'rep' OR team_id IS NULL", name="only_reps_have_team"),
        CheckConstraint(f"locale IS NULL OR {_in('locale', LOCALES)}", name="locale"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    # Stored normalised: e-mail lower case, phone as its digits only.
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), unique=True)
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    # None: follow the browser's language.
    locale: Mapped[str | None] = mapped_column(String(LOCALE_MAX))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    factory_id: Mapped[int | None] = mapped_column(
        ForeignKey("factories.id", use_alter=True), index=True
    )
    is_factory_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The notification kinds this user also gets by e-mail; None: the defaults of
    # crm.services.notices.mail.
    email_kinds: Mapped[list | None] = mapped_column(JSON)
    # Separate consent to precise location at check-in (crm.services.privacy.consent): the
    # version of the notice agreed to and when (the phone's time), or when it was withdrawn.
    location_consent_version: Mapped[int | None] = mapped_column(Integer)
    location_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    location_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When an admin erased this person's data (crm.services.privacy.erasure): the row stays, as
    # "a former user", so that what they did keeps its author; it never signs in again.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team = relationship("Team", foreign_keys=[team_id], back_populates="reps")
    factory = relationship("Factory", foreign_keys=[factory_id])
    led_teams = relationship("Team", secondary="team_managers", back_populates="managers")

    # Set by the user loader: the sign-in session this request runs under, and what its one
    # query read of it (crm.services.accounts.auth.SignIn). Not columns.
    current_session_token = None  # str | None
    current_sign_in = None  # SignIn | None

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def get_id(self) -> str | None:
        # The cookie names the session row, not the user, so that one device can be ended.
        return self.current_session_token

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def login(self) -> str:
        return self.email or self.phone or ""

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.login}>"


class UserSession(db.Model):
    """One row per sign-in; the cookies carry its token, so a device can be signed out."""

    __tablename__ = "user_sessions"
    # The sessions unseen for the retention period (crm.services.install.retention).
    __table_args__ = (Index("ix_user_sessions_last_seen_at", "last_seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # SHA-256 of the token the cookie carries; the token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When this sign-in passed the second factor (a code or a recovery code); None: not yet.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class LoginAttempt(db.Model):
    """A failed login, counted per login and address together (DESIGN.md "Sign-in")."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_login_address_at", "login", "address", "at"),
        Index("ix_login_attempts_at", "at"),  # retention's oldest first
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(EMAIL_MAX))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(db.Model):
    """A factory owner's link for a colleague to make a login; it expires and works once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(
        ForeignKey("factories.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # SHA-256 of the token in the link; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Revoked by its owner or an admin, or when its owner was deactivated: it no longer works.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    factory = relationship("Factory")
    created_by = relationship("User", foreign_keys=[created_by_id])

    def open_at(self, now: datetime) -> bool:
        """Neither used, revoked nor expired."""
        return self.used_at is None and self.revoked_at is None and self.expires_at > now
