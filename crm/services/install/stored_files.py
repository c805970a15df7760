"""Upload files that no row names (a save whose commit failed), removed by the daily sweep.

A visit's photos and voice note, and a task's evidence photo, are written before the request
commits, since the rows name them. When the commit fails, the files stay with no row. They are
not deleted there and then: a commit can fail on the app's side after the database committed
it (the connection dropped before the answer came), and the phone's resend is then answered
with that visit, whose files must be there. So the daily sweep deletes a file that no row names
once it is a day old, looking back a week (a missed day is caught up; older files were judged
by earlier sweeps, and reading only a week keeps the sweep's work that of a week's uploads).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Task, VisitPhoto, VisitVoiceNote
from crm.services import storage
from crm.services.field import photos, voice_notes

GRACE = timedelta(days=1)  # far longer than any request that is still writing its files
LOOK_BACK = timedelta(days=8)
BATCH = 500


def sweep_orphans(session: Session, now: datetime) -> Iterator[dict[str, int]]:
    """Delete the files, a day to a week old, of stored names that no row holds; by batches.

    A batch's names are looked up in the photos' and notes' unique names (indexed); the
    tasks' evidence names, which have no index and are few, are read once for the sweep.
    """
    files = _recent_files(now)
    evidence: set[str | None] = set()
    if files:
        has_evidence = Task.evidence_file.is_not(None)
        evidence.update(session.scalars(select(Task.evidence_file).where(has_evidence)))
    names = sorted(files)
    kept = storage.store()
    for start in range(0, len(names), BATCH):
        batch = names[start : start + BATCH]
        named: set[str] = set()
        for column in (VisitPhoto.stored_name, VisitVoiceNote.stored_name):
            named.update(session.scalars(select(column).where(column.in_(batch))))
        removed = 0
        for name in batch:
            if name not in named and name not in evidence:
                for key in files[name]:
                    kept.delete(key)
                removed += 1
        yield {"orphan_files_removed": removed}
    yield {"orphan_files_removed": 0}  # the step's end, for the run's timings


def _recent_files(now: datetime) -> dict[str, list[str]]:
    """Stored name -> its keys (a photo and its thumbnail, or a voice note) in the window.

    Only the day folders of the window are listed (crm.services.field.photos.new_name), so the
    sweep costs a week's uploads, not every file the install ever kept.
    """
    oldest, newest = now - LOOK_BACK, now - GRACE
    days = [
        (oldest + timedelta(days=n)).strftime(photos.DAY_FORMAT) for n in range(LOOK_BACK.days + 1)
    ]
    kept = storage.store()
    files: dict[str, list[str]] = {}
    for folder in (photos.FOLDER, voice_notes.FOLDER):
        for day in days:
            for entry in kept.list(f"{folder}/{day}/"):
                if oldest <= entry.modified <= newest:
                    base = entry.key.rsplit("/", 1)[-1].split(".", 1)[0].removesuffix("-thumb")
                    files.setdefault(f"{day}/{base}", []).append(entry.key)
    return files
