"""Upload files that no row names: the daily sweep deletes them once a day old, and only them.

A failed commit leaves a visit's files behind; they are not deleted at the failure, since the
database may have committed after all (crm.services.install.stored_files). The sweep is what
cleans up.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from crm.extensions import db
from crm.jobs import daily
from crm.services import storage
from crm.services.field import photos, voice_notes
from crm.services.install import stored_files
from tests import builders


def aged(paths, age: timedelta, now: datetime) -> None:
    stamp = (now - age).timestamp()
    for path in paths:
        os.utime(path, (stamp, stamp))


def path_of(key: str):
    """The file of a key in the test's folder (the sweep's ages are the files' times)."""
    return storage.store().path(key)


def orphan_photo() -> list:
    data = builders.image_bytes()
    stored = photos.store(photos.Upload(data=data, sha256=hashlib.sha256(data).hexdigest()))
    name = stored.stored_name
    return [path_of(photos.key_of(name)), path_of(photos.key_of(name, True))]


def orphan_voice_note() -> list:
    data = builders.audio_bytes()
    stored = voice_notes.store(
        voice_notes.Upload(data=data, sha256=hashlib.sha256(data).hexdigest())
    )
    return [path_of(voice_notes.key_of(stored.stored_name, stored.content_type))]


@pytest.fixture
def world(db_session, local_store):
    # A storage root of this test's own: other tests' files, their rows rolled back, are
    # orphans too, and must not be counted here. A folder whichever store the run uses: the
    # files are aged by their times (tests/unit/test_storage.py sweeps a bucket).
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep)
    visit = builders.visit(factory, rep)
    photo = builders.visit_photo(visit)
    note = builders.visit_voice_note(visit)
    task = builders.task(factory, "First short video")
    evidence = builders.visit_photo(builders.visit(factory, rep))
    task.evidence_file = evidence.stored_name
    db.session.delete(evidence)  # the task alone names this photo now
    db.session.flush()
    kept = [
        path_of(photos.key_of(photo.stored_name)),
        path_of(photos.key_of(photo.stored_name, thumbnail=True)),
        path_of(voice_notes.key_of(note.stored_name, note.content_type)),
        path_of(photos.key_of(evidence.stored_name)),
        path_of(photos.key_of(evidence.stored_name, thumbnail=True)),
    ]
    return {"kept": kept}


def sweep(now: datetime) -> Counter:
    totals: Counter = Counter()
    for counts in daily.run(db.session, now):
        totals.update(counts)
    return totals


def test_the_daily_sweep_deletes_day_old_files_no_row_names_and_keeps_the_rest(world, monkeypatch):
    monkeypatch.setattr(stored_files, "BATCH", 2)  # several batches, each judged on its own
    now = datetime.now(UTC)
    named = world["kept"]
    orphans = orphan_photo() + orphan_photo() + orphan_voice_note()
    young = orphan_photo()  # a request may still be about to commit its row
    ancient = orphan_voice_note()  # judged by the sweeps of its own week
    aged(named + orphans, timedelta(days=2), now)
    aged(young, timedelta(hours=3), now)
    aged(ancient, timedelta(days=30), now)
    assert all(path.is_file() for path in named + orphans + young + ancient)

    counts = sweep(now)

    assert counts["orphan_files_removed"] == 3  # two photos (with thumbnails) and a note
    assert not any(path.exists() for path in orphans)
    assert all(path.is_file() for path in named + young + ancient)
    assert sweep(now)["orphan_files_removed"] == 0  # a second run finds nothing more


def test_a_visit_committed_after_its_answer_was_lost_keeps_its_files(world):
    """The resend of such a visit is answered with it, so its files are never swept."""
    now = datetime.now(UTC)
    aged(world["kept"], timedelta(days=3), now)
    assert sweep(now)["orphan_files_removed"] == 0
    assert all(path.is_file() for path in world["kept"])
