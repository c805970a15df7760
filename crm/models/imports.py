"""Import runs: an uploaded sheet's cells kept as sent, its header mapping, report, progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

IMPORT_KINDS = ("factories", "snapshots")
# uploaded -> checked (a dry run found no problem) or refused (it found some)
# -> applying -> done, or failed (nothing imported).
IMPORT_STATUSES = ("uploaded", "checked", "refused", "applying", "done", "failed")
FILENAME_MAX = 255


class ImportRun(db.Model):
    """One upload of factories or figures: the staged rows (JSON), then a dry run, then the apply.

    The cells are kept exactly as read (after decoding), so the confirm step needs no
    re-upload and nothing the user sent is lost, even when a dry run refuses it.
    """

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        CheckConstraint(_in("status", IMPORT_STATUSES), name="status"),
        CheckConstraint("processed_rows >= 0", name="processed_rows"),
        Index("ix_import_runs_created_by_created", "created_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX), default="")
    # "csv" or "xlsx"; for a CSV the encoding it was read with and its delimiter.
    file_format: Mapped[str] = mapped_column(String(10), default="csv")
    encoding: Mapped[str] = mapped_column(String(20), default="")
    delimiter: Mapped[str] = mapped_column(String(4), default="")
    headers: Mapped[list] = mapped_column(JSON, default=list)
    # The field each column is read into, by column position ("" leaves the column out).
    mapping: Mapped[list] = mapped_column(JSON, default=list)
    # [[line, cell, cell, ...], ...]: the data rows with their line in the file.
    rows: Mapped[list] = mapped_column(JSON, default=list)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="uploaded")
    # "checking" or "writing" while applying; rows checked so far, for the progress bar.
    phase: Mapped[str] = mapped_column(String(10), default="")
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    # [{"line": 3, "column": "Belt", "message": "..."}], in line order.
    problems: Mapped[list] = mapped_column(JSON, default=list)
    # {"created": n, "updated": n, "unchanged": n}: what the dry run expects or the apply did.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by = relationship("User")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.total_rows:
            return 0
        return min(99, self.processed_rows * 100 // self.total_rows)
