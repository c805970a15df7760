"""Follow-ups: the next time someone must see a factory, and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

FOLLOW_UP_STATUSES = ("open", "done", "cancelled")
ORIGINS = ("visit", "cadence", "task", "manual")
REASON_MAX = 300


class FollowUp(db.Model):
    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint(_in("status", FOLLOW_UP_STATUSES), name="status"),
        CheckConstraint(_in("origin", ORIGINS), name="origin"),
        CheckConstraint("status != 'done' OR completed_at IS NOT NULL", name="done_has_time"),
        Index("ix_follow_ups_assignee_status_due", "assignee_id", "status", "due_at"),
        # A factory's open follow-ups by due time (its page): without due_at here SQLite
        # orders by (status, due_at) and reads every open follow-up of the install.
        Index("ix_follow_ups_factory_status_due", "factory_id", "status", "due_at"),
        Index("ix_follow_ups_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # An instant; a date a person picks lands at 10:00 in the install's zone.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(REASON_MAX), default="")
    origin: Mapped[str] = mapped_column(String(10), default="manual")
    status: Mapped[str] = mapped_column(String(10), default="open")
    completed_by_visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("visits.id", ondelete="SET NULL")
    )
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_soon_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    factory = relationship("Factory")
    assignee = relationship("User", foreign_keys=[assignee_id])
    completed_by_visit = relationship("Visit")
