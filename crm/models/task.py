"""Checklist tasks of one factory, and the metric snapshots that measured tasks are judged by."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.stage import COMPARISONS, STAGES, TASK_KINDS, TITLE_MAX
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

TASK_STATUSES = ("open", "submitted", "done", "waived")
URL_MAX = 500
REASON_MAX = 2000


class Task(db.Model):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("factory_id", "template_id"),
        CheckConstraint(_in("status", TASK_STATUSES), name="status"),
        CheckConstraint(_in("kind", TASK_KINDS), name="kind"),
        CheckConstraint(f"stage IS NULL OR {_in('stage', STAGES)}", name="stage"),
        CheckConstraint(
            f"comparison IS NULL OR {_in('comparison', COMPARISONS)}", name="comparison"
        ),
        CheckConstraint("status != 'waived' OR waive_reason IS NOT NULL", name="waived_has_reason"),
        Index("ix_tasks_factory_status", "factory_id", "status"),
        Index("ix_tasks_owner_status_due", "owner_id", "status", "due_on"),
        # Each rep's tasks completed in a period (the team page), from the index alone.
        Index("ix_tasks_owner_status_completed", "owner_id", "status", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    # None for an ad-hoc task; otherwise its template's fields are copied at creation,
    # so editing the template never rewrites the tasks factories already have.
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("task_templates.id", ondelete="SET NULL")
    )
    stage: Mapped[str | None] = mapped_column(String(12))
    title_en: Mapped[str] = mapped_column(String(TITLE_MAX))
    title_zh: Mapped[str] = mapped_column(String(TITLE_MAX))
    kind: Mapped[str] = mapped_column(String(12), default="custom")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    metric_code: Mapped[str | None] = mapped_column(ForeignKey("metrics.code", onupdate="CASCADE"))
    comparison: Mapped[str | None] = mapped_column(String(8))
    target_value: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    waive_reason: Mapped[str | None] = mapped_column(Text)
    evidence_link: Mapped[str | None] = mapped_column(String(URL_MAX))
    evidence_number: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    # Random stored name under the storage root, never the uploaded name.
    evidence_file: Mapped[str | None] = mapped_column(String(80))
    evidence_note: Mapped[str | None] = mapped_column(Text)
    send_back_reason: Mapped[str | None] = mapped_column(Text)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    shoot_on: Mapped[date | None] = mapped_column(Date)
    video_url: Mapped[str | None] = mapped_column(String(URL_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    factory = relationship("Factory")
    template = relationship("TaskTemplate")
    owner = relationship("User", foreign_keys=[owner_id])
    verified_by = relationship("User", foreign_keys=[verified_by_id])

    @property
    def is_closed(self) -> bool:
        return self.status in ("done", "waived")

    def title_for(self, locale: str) -> str:
        return self.title_zh if locale.startswith("zh") else self.title_en


class MetricSnapshot(db.Model):
    """A factory's figure for one metric and one calendar month (stored as its first day)."""

    __tablename__ = "metric_snapshots"
    __table_args__ = (
        UniqueConstraint("factory_id", "metric_code", "month"),
        Index("ix_metric_snapshots_factory_metric_month", "factory_id", "metric_code", "month"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    metric_code: Mapped[str] = mapped_column(ForeignKey("metrics.code", onupdate="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(16, 4))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    factory = relationship("Factory")
    metric = relationship("Metric")
