"""What happened and who did it: stage changes, notifications, deliveries, the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from crm.extensions import db
from crm.models.factory import STATUSES
from crm.models.stage import STAGES
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

DECISIONS = ("pending", "approved", "refused", "direct")
CHANNELS = ("email", "webhook")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "flagged")


class StageChange(db.Model):
    """A request to move a factory's stage or status, and its decision; kept as history."""

    __tablename__ = "stage_changes"
    __table_args__ = (
        CheckConstraint(_in("decision", DECISIONS), name="decision"),
        CheckConstraint(_in("to_status", STATUSES), name="to_status"),
        CheckConstraint(
            f"from_status IS NULL OR {_in('from_status', STATUSES)}", name="from_status"
        ),
        CheckConstraint(f"to_stage IS NULL OR {_in('to_stage', STAGES)}", name="to_stage"),
        CheckConstraint(f"from_stage IS NULL OR {_in('from_stage', STAGES)}", name="from_stage"),
        CheckConstraint("NOT is_override OR reason != ''", name="override_has_reason"),
        Index("ix_stage_changes_factory_requested", "factory_id", "requested_at"),
        # A factory's changes decided in a period: what a rep's week, the team page and the
        # reports read for the factories of a team, each factory's own from this index.
        Index("ix_stage_changes_factory_decided", "factory_id", "decided_at"),
        Index("ix_stage_changes_decision", "decision"),
        # The decisions of a period (the team page's promotions and signings).
        Index("ix_stage_changes_decided_at", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(10))
    from_stage: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(10))
    to_stage: Mapped[str | None] = mapped_column(String(12))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    decision_note: Mapped[str] = mapped_column(Text, default="")
    is_override: Mapped[bool] = mapped_column(Boolean, default=False)

    factory = relationship("Factory")
    requested_by = relationship("User", foreign_keys=[requested_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])


class Notification(db.Model):
    """An in-app inbox item; written in the same transaction as the work it reports."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_read_created", "user_id", "read_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    factory_id: Mapped[int | None] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    # Makes "notify once" a constraint rather than a hope.
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")


class Delivery(db.Model):
    """An e-mail or webhook sending of a notification: marked, committed, then sent."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        Index("ix_deliveries_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(10))
    target: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str] = mapped_column(Text, default="")

    notification = relationship("Notification")


class AuditEntry(db.Model):
    """One change that matters: who (a user or a job), what record, the changed fields only."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint("actor_id IS NOT NULL OR actor_job IS NOT NULL", name="has_actor"),
        Index("ix_audit_entries_record", "record_type", "record_id"),
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_factory", "factory_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_job: Mapped[str | None] = mapped_column(String(60))
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column(Integer)
    # The factory the record belongs to (the factory itself, its stage change, task, visit,
    # figure, follow-up, contact): its history. No foreign key: history outlives the record.
    factory_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    # {"field": [before, after]} for the changed fields only.
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    # Names of the fields in `changes` that hold personal data, so they can be erased.
    personal_fields: Mapped[list] = mapped_column(JSON, default=list)

    actor = relationship("User")


# --- the audit log is append-only ---------------------------------------------------------------

# Set in a session's `info` only by crm.services.install.audit_retention, the one service that may
# erase personal fields or expire entries past retention (and audits doing so).
AUDIT_RETENTION = "audit_retention"


class AuditLocked(RuntimeError):
    """An update or delete of an audit entry outside the retention service."""


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, flush_context, instances) -> None:
    if session.info.get(AUDIT_RETENTION):
        return
    for entry in session.deleted:
        if isinstance(entry, AuditEntry):
            raise AuditLocked(
                "audit entries are never deleted (see crm.services.install.audit_retention)"
            )
    for entry in session.dirty:
        if isinstance(entry, AuditEntry) and session.is_modified(entry):
            raise AuditLocked(
                "audit entries are never edited (see crm.services.install.audit_retention)"
            )


@event.listens_for(Session, "do_orm_execute")
def _refuse_audit_statements(state) -> None:
    """`update(AuditEntry)` and `delete(AuditEntry)` through the ORM are refused alike."""
    if not (state.is_update or state.is_delete) or state.session.info.get(AUDIT_RETENTION):
        return
    if state.bind_mapper is not None and state.bind_mapper.class_ is AuditEntry:
        raise AuditLocked("audit entries are never edited or deleted through the ORM")
