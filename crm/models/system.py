"""The install's own records: settings, holidays, job runs, the scheduler lease, the version of
what each process keeps of them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

JOB_OUTCOMES = ("running", "ok", "failed")


class Setting(db.Model):
    """A value an admin tunes (DESIGN.md "Settings").

    The defaults live in crm.services.install.settings.
    """

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict | list | str | int | float | bool | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CacheVersion(db.Model):
    """The version of the data every process keeps (crm.cache): set anew, in the same
    transaction, by every change to the settings, stages, metrics, belts, team leads or leaves."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


# A day off (a public holiday), or a make-up working day (调休: a Saturday or Sunday worked).
HOLIDAY_KINDS = ("holiday", "workday")
HOLIDAY_NAME_MAX = 100


class Holiday(db.Model):
    """A day of the install's calendar: a day off that due dates skip, or a make-up working
    day that counts as working though it falls on a weekend (crm.services.calendar)."""

    __tablename__ = "holidays"
    __table_args__ = (CheckConstraint(_in("kind", HOLIDAY_KINDS), name="kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(HOLIDAY_NAME_MAX), default="")
    kind: Mapped[str] = mapped_column(String(10), default="holiday", server_default="holiday")


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "run_key"),
        CheckConstraint(_in("outcome", JOB_OUTCOMES), name="outcome"),
        Index("ix_job_runs_job_started", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(60))
    # The job's period, e.g. "2026-11-25T09:15" or "2026-W48": a period runs once.
    run_key: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(10), default="running")
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class SchedulerLease(db.Model):
    """The leader lease on SQLite (PostgreSQL uses an advisory lock instead)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KeptReport(db.Model):
    """The reports of one scope, period and narrowing as last read from the live rows, with when
    (crm.services.reports.kept_reports): shown from here while young enough, read again after.
    `key` names the scope (the whole install, or a manager's belts), the narrowing and the
    period, so that only a user of that very scope is shown it; `asked_by_id` is whom the
    background refresh reads it again as."""

    __tablename__ = "kept_reports"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
