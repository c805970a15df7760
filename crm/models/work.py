"""Work requests: long work asked for from a page (an import, a "run now"), done by the scheduler.

DESIGN.md "Long work": the page records what it wants (kind, arguments, who); the scheduler
process claims the request within seconds, reports progress as it goes (rows done of a total,
and a phase) and records the result or a clear error for the page.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

# pending -> running (claimed by one process) -> done or failed.
WORK_STATUSES = ("pending", "running", "done", "failed")
WORK_KIND_MAX = 40
PHASE_MAX = 20
HOLDER_MAX = 120


class WorkRequest(db.Model):
    """Long work asked for from a page, picked up by the scheduler process."""

    __tablename__ = "work_requests"
    __table_args__ = (
        CheckConstraint(_in("status", WORK_STATUSES), name="status"),
        CheckConstraint("progress_done >= 0 AND progress_total >= 0", name="progress"),
        Index("ix_work_requests_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(WORK_KIND_MAX))
    arguments: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    # How far it has come: `progress_done` of `progress_total` (rows, say) in `phase`.
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    phase: Mapped[str] = mapped_column(String(PHASE_MAX), default="")
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    # Why it failed, in words for the page that asked (the log keeps the traceback).
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The process that claimed it ("host:pid", or "web" for a small one done in the request).
    claimed_by: Mapped[str] = mapped_column(String(HOLDER_MAX), default="")
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.progress_total:
            return 0
        return min(99, self.progress_done * 100 // self.progress_total)
