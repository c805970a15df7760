"""A user's second factor: the authenticator app's secret and the hashed recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow

SECRET_MAX = 64


class TwoFactor(db.Model):
    """One per user: a TOTP secret, confirmed once the user typed a code from their app."""

    __tablename__ = "two_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    # Base32, as authenticator apps take it; the server must read it back to check codes.
    secret: Mapped[str] = mapped_column(String(SECRET_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None while the user is still setting up: the factor does not count until confirmed.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second step of the last code accepted: that code, and any older one, is refused.
    last_used_step: Mapped[int | None] = mapped_column(Integer)

    user = relationship("User")

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(db.Model):
    """A single-use code for a lost phone; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
