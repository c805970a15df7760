"""A team's group-robot webhook (WeCom or DingTalk) and the deliveries queued for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

CHANNEL_KINDS = ("wecom", "dingtalk")
WEBHOOK_STATUSES = ("pending", "sending", "sent", "failed")
EVENT_KINDS = ("digest", "factory_eligible", "test")
URL_MAX = 500
KEYWORD_MAX = 20
SECRET_MAX = 100  # a DingTalk secret is "SEC" and 64 hex digits


class NotificationChannel(db.Model):
    """One team's robot in a group chat; the digest and newly eligible factories go to it."""

    __tablename__ = "notification_channels"
    __table_args__ = (CheckConstraint(_in("kind", CHANNEL_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(String(URL_MAX))
    # DingTalk's keyword mode: the robot refuses a message whose text lacks the keyword.
    keyword: Mapped[str] = mapped_column(String(KEYWORD_MAX), default="")
    # DingTalk's signed mode; kept in clear because every send signs with it, never shown back.
    secret: Mapped[str] = mapped_column(String(SECRET_MAX), default="")
    # The language the group reads (the messages are written in it).
    locale: Mapped[str] = mapped_column(String(10), default="zh_Hans")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    team = relationship("Team")

    @property
    def secret_hint(self) -> str:
        """The secret as the page shows it: its last four characters only."""
        return f"…{self.secret[-4:]}" if self.secret else ""


class WebhookDelivery(db.Model):
    """One message to a channel: queued with its work, claimed and committed, then sent."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_in("status", WEBHOOK_STATUSES), name="status"),
        CheckConstraint(_in("event", EVENT_KINDS), name="event"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        # The finished messages past retention (crm.services.install.retention).
        Index("ix_webhook_deliveries_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(20))
    # Makes "queued once per period" a constraint: a rerun of the job queues nothing new.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    payload: Mapped[str] = mapped_column(Text)  # the text, written in the group's language
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When a sender marked it `sending`: a row left so for long was cut off by a crash.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    channel = relationship("NotificationChannel")
