"""Import runs: an upload's header, mapping and report; its rows staged one record each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.types import UTCDateTime, utcnow
from crm.models.user import _in

IMPORT_KINDS = ("factories", "snapshots")
# uploaded -> (checking, a large file's dry run as a work request) -> checked (no problem)
# or refused (some) -> applying (a work request) -> done, or failed (nothing imported).
IMPORT_STATUSES = ("uploaded", "checking", "checked", "refused", "applying", "done", "failed")
FILENAME_MAX = 255


class ImportRun(db.Model):
    """One upload of factories or figures: its rows are staged in ImportRow, then checked, applied.

    The cells are kept exactly as read (after decoding), so the confirm step needs no
    re-upload and nothing the user sent is lost, even when a dry run refuses it.
    """

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(_in("kind", IMPORT_KINDS), name="kind"),
        CheckConstraint(_in("status", IMPORT_STATUSES), name="status"),
        Index("ix_import_runs_created_by_created", "created_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(FILENAME_MAX), default="")
    # "csv", "xlsx" or "ods"; for a CSV the encoding it was read with and its delimiter.
    file_format: Mapped[str] = mapped_column(String(10), default="csv")
    encoding: Mapped[str] = mapped_column(String(20), default="")
    delimiter: Mapped[str] = mapped_column(String(4), default="")
    headers: Mapped[list] = mapped_column(JSON, default=list)
    # The field each column is read into, by column position ("" leaves the column out).
    mapping: Mapped[list] = mapped_column(JSON, default=list)
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="uploaded")
    # Problems of the file as a whole (a required field no column holds), at line 1; the
    # rows' own problems are on their ImportRow. `problem_count` counts both.
    problems: Mapped[list] = mapped_column(JSON, default=list)
    problem_count: Mapped[int] = mapped_column(Integer, default=0)
    # {"created": n, "updated": n, "unchanged": n}: what the dry run expects or the apply did.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # The work request checking or applying it (its progress is the page's progress bar).
    work_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_requests.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by = relationship("User")
    work_request = relationship("WorkRequest")


class ImportRow(db.Model):
    """One data row of an upload, staged: its line in the file, its cells, its problems."""

    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_run_line", "run_id", "line", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    # The cells as read, by column position.
    cells: Mapped[list] = mapped_column(JSON, default=list)
    # [{"column": "Belt", "message": "..."}], or NULL for a row without problems.
    problems: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
