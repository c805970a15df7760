"""Personal API tokens: an integration's key to /api/v1, stored as the secret's SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow

TOKEN_NAME_MAX = 80
PREFIX_LENGTH = 12  # "crm_" and eight characters: enough to tell a user's tokens apart


class ApiToken(db.Model):
    """One user's token; the secret is shown once at creation and never stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX))
    # SHA-256 of the whole secret as the integration sends it.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(PREFIX_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the session that made it passed the second factor; None: a password alone made it,
    # so it stops working once a second factor is asked of its user.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired (the user's own active flag is checked beside it)."""
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
