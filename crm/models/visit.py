"""Visits to factories, their photos and voice note, and the tasks each visit advanced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import and_, column, false, or_, true

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

PURPOSES = (
    "first_contact",
    "assessment",
    "training",
    "video_shoot",
    "follow_up",
    "promotion_review",
    "other",
)
CLIENT_KEY_MAX = 64
NOTES_MAX = 10_000
SUMMARY_MAX = 2_000

# A visit that needs a manager's look: off site, or a photo repeating an earlier one.
FLAGGED = or_(column("off_site").is_(true()), column("photos_doubtful").is_(true()))
# A check-in position that retention has yet to coarsen (crm.services.install.retention): the
# retention job reads these few by time, never every visit the install ever kept.
TO_COARSEN = and_(column("position_coarsened_at").is_(None), column("lat").is_not(None))

visit_tasks = Table(
    "visit_tasks",
    db.metadata,
    Column("visit_id", ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        # A key is unique per user: another user's key never returns someone else's visit.
        UniqueConstraint("rep_id", "client_key"),
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint("lat IS NULL OR lat BETWEEN -90 AND 90", name="lat"),
        CheckConstraint("lng IS NULL OR lng BETWEEN -180 AND 180", name="lng"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="accuracy"),
        Index("ix_visits_factory_checked_in", "factory_id", "checked_in_at"),
        # A rep's visits by time; with the off-site flag and the factory, the team page counts
        # every rep's visits of a period (and a manager's scope of them) from the index alone.
        Index(
            "ix_visits_rep_checked_in_site_factory",
            "rep_id",
            "checked_in_at",
            "off_site",
            "factory_id",
        ),
        # The flagged visits (crm.services.trust.flagged.flagged_condition, the same words, so
        # that both planners match it): the review's queue reads these few, never every visit, in
        # its order of time (a belt's 25 oldest are among the first few hundred of the install).
        Index(
            "ix_visits_flagged",
            "checked_in_at",
            "factory_id",
            postgresql_where=FLAGGED,
            sqlite_where=FLAGGED,
        ),
        Index(
            "ix_visits_position_to_coarsen",
            "checked_in_at",
            postgresql_where=TO_COARSEN,
            sqlite_where=TO_COARSEN,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("factories.id", ondelete="CASCADE"))
    rep_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    # The phone's clock, with the UTC offset it reported.
    checked_in_at: Mapped[datetime] = mapped_column(UTCDateTime)
    utc_offset_minutes: Mapped[int | None] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    distance_m: Mapped[float | None] = mapped_column(Float)
    off_site: Mapped[bool] = mapped_column(Boolean, default=False)
    # Checked in without a position because its rep had not consented to share one (or had
    # withdrawn): not off-site, just unplaced (crm.services.privacy.consent).
    position_withheld: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notes: Mapped[str] = mapped_column(Text, default="")  # internal, never shown to the factory
    summary: Mapped[str] = mapped_column(Text, default="")  # shared with the factory
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    client_key: Mapped[str] = mapped_column(String(CLIENT_KEY_MAX))
    # SHA-256 of the first accepted submission, photo hashes included.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its rep last corrected its text, purpose or contact (crm.services.trust.corrections).
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One of its photos repeats an earlier one (crm.services.trust.photo_flags): kept here so
    # that the review's queue reads flagged visits from the visit alone.
    photos_doubtful: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Retention (crm.services.install.retention): when its position was coarsened to about a
    # kilometre, and when its photos and voice note were deleted (the visit says so).
    position_coarsened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    media_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    factory = relationship("Factory")
    rep = relationship("User")
    contact = relationship("Contact")
    photos = relationship(
        "VisitPhoto", back_populates="visit", cascade="all, delete-orphan", order_by="VisitPhoto.id"
    )
    # At most one, recorded on the phone instead of typed notes; staff only, like the photos.
    voice_note = relationship(
        "VisitVoiceNote", back_populates="visit", cascade="all, delete-orphan", uselist=False
    )
    tasks = relationship("Task", secondary=visit_tasks)


class VisitCorrection(db.Model):
    """A visit as it was before one correction by its rep: the text, purpose and contact it had
    then (its place, time and photos never change). Staff see these; the factory never does."""

    __tablename__ = "visit_corrections"
    __table_args__ = (CheckConstraint(_in("purpose", PURPOSES), name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    corrected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    purpose: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))


REVIEW_STATES = ("accepted", "disputed", "answered", "closed")
REVIEW_NOTE_MAX = 1_000


class VisitReview(db.Model):
    """A manager's review of a flagged visit (crm.services.trust.flagged): accepted with a
    note, or disputed, answered by the rep and closed by the manager."""

    __tablename__ = "visit_reviews"
    __table_args__ = (CheckConstraint(_in("state", REVIEW_STATES), name="state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(10))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closing_note: Mapped[str] = mapped_column(Text, default="")

    visit = relationship("Visit")
    reviewer = relationship("User", foreign_keys=[reviewer_id])


class VisitPhoto(db.Model):
    __tablename__ = "visit_photos"
    __table_args__ = (
        # An earlier photo of the same bytes, and one whose perceptual hash shares a quarter.
        Index("ix_visit_photos_sha256", "sha256"),
        Index("ix_visit_photos_phash_0", "phash_0"),
        Index("ix_visit_photos_phash_1", "phash_1"),
        Index("ix_visit_photos_phash_2", "phash_2"),
        Index("ix_visit_photos_phash_3", "phash_3"),
        # The photos past retention, oldest first (crm.services.install.retention).
        Index("ix_visit_photos_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The perceptual hash (64 bits, hex) and its four 16-bit quarters, each indexed: two photos
    # within 3 bits of each other share a quarter (crm.services.trust.photo_flags).
    phash: Mapped[str | None] = mapped_column(String(16))
    phash_0: Mapped[int | None] = mapped_column(Integer)
    phash_1: Mapped[int | None] = mapped_column(Integer)
    phash_2: Mapped[int | None] = mapped_column(Integer)
    phash_3: Mapped[int | None] = mapped_column(Integer)
    # What makes the photo doubtful: the same bytes as an earlier photo of the install, or nearly
    # the same picture as a photo of another visit.
    same_as_id: Mapped[int | None] = mapped_column(
        ForeignKey("visit_photos.id", ondelete="SET NULL")
    )
    near_id: Mapped[int | None] = mapped_column(ForeignKey("visit_photos.id", ondelete="SET NULL"))
    # What the capture time says (crm.services.trust.photo_flags.TIME_FLAGS): "early" (taken
    # long before the check-in), "future", "unknown" (none read); none for a photo judged
    # fine, or sent before capture times were judged.
    time_flag: Mapped[str | None] = mapped_column(String(12))

    visit = relationship("Visit", back_populates="photos")

    @property
    def flagged(self) -> bool:
        return self.same_as_id is not None or self.near_id is not None or bool(self.time_flag)


class VisitVoiceNote(db.Model):
    __tablename__ = "visit_voice_notes"
    __table_args__ = (
        CheckConstraint("duration_ms >= 0", name="duration"),
        Index("ix_visit_voice_notes_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), unique=True)
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Read from the packets' timestamps: the recorders' files carry no length in a header.
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    visit = relationship("Visit", back_populates="voice_note")
