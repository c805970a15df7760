"""A field action sent by a phone under its own key: the record that makes it happen once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.visit import CLIENT_KEY_MAX

KIND_MAX = 40
LOCATION_MAX = 2_000


class ClientAction(db.Model):
    """One accepted action (a follow-up done, a task ticked, a contact added ...): its key,
    the fingerprint of what was sent, and the first answer, which a repeat gets again."""

    __tablename__ = "client_actions"
    __table_args__ = (
        # A key is unique per user: another user's key never returns someone else's answer.
        UniqueConstraint("user_id", "client_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    client_key: Mapped[str] = mapped_column(String(CLIENT_KEY_MAX))
    kind: Mapped[str] = mapped_column(String(KIND_MAX))
    # SHA-256 of the first accepted submission (its path, fields and files).
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The first answer: its status, where it sent the person, and what it said.
    status: Mapped[int | None] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(LOCATION_MAX), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
