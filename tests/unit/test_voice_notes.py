"""A visit's voice note: real audio of a phone's kind, its length read from the packets,
at most 2 minutes and 3 MB, refused by the voice_note field otherwise, kept exactly once."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from crm.errors import Conflict, Invalid
from crm.extensions import db
from crm.models import Visit, VisitVoiceNote
from crm.services import storage
from crm.services.field import visits, voice_notes
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def note(data: bytes) -> voice_notes.Upload:
    return voice_notes.Upload(data=data, sha256=hashlib.sha256(data).hexdigest())


def refusal(data: bytes) -> str:
    with pytest.raises(Invalid) as refused:
        voice_notes.measure(note(data))
    assert set(refused.value.fields) == {"voice_note"}
    return refused.value.fields["voice_note"]


@pytest.mark.parametrize(
    ("container", "content_type"),
    [("webm", "audio/webm"), ("mp4", "audio/mp4"), ("ogg", "audio/ogg")],
)
def test_the_length_is_read_from_the_packets(app, container, content_type):
    for seconds in (1.0, 2.0):
        data = builders.audio_bytes(seconds, container)
        found_type, duration_ms = voice_notes.measure(note(data))
        assert found_type == content_type
        assert abs(duration_ms - seconds * 1000) <= 100


def test_a_note_longer_than_two_minutes_is_refused(app):
    # Silence at a low sample rate: two minutes and a bit in a few dozen kilobytes.
    data = builders.audio_bytes(121, "webm", rate=8000, tone=0)
    assert len(data) < voice_notes.VOICE_MAX_BYTES
    assert "2 minutes" in refusal(data)
    just_under = builders.audio_bytes(119, "mp4", rate=8000, tone=0)
    assert voice_notes.measure(note(just_under))[1] <= voice_notes.VOICE_MAX_MS


def test_a_file_that_is_not_audio_is_refused_whatever_its_name(app):
    assert "WebM, MP4 or Ogg" in refusal(b"RIFF not really a recording" * 40)
    assert "WebM, MP4 or Ogg" in refusal(builders.image_bytes())


def test_a_note_larger_than_three_megabytes_is_refused_before_it_is_opened(app):
    large = FileStorage(io.BytesIO(b"\x1a\x45\xdf\xa3" + bytes(voice_notes.VOICE_MAX_BYTES)))
    with pytest.raises(Invalid) as refused:
        voice_notes.read_upload(large)
    assert "3 MB" in refused.value.fields["voice_note"]
    assert voice_notes.read_upload(FileStorage(io.BytesIO(b""))) is None


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep)
    return {"rep": rep, "factory": factory}


def sent(key: str, voice: bytes | None) -> visits.Submission:
    return visits.Submission(
        client_key=key,
        purpose="follow_up",
        checked_in_at=NOW - timedelta(minutes=1),
        voice_note=note(voice) if voice is not None else None,
    )


def stored_files() -> set:
    return {entry.key for entry in storage.store().list(f"{voice_notes.FOLDER}/")}


def test_a_visit_keeps_its_voice_note_exactly_once(world):
    audio = builders.audio_bytes(1.2, "webm")
    first = visits.log_visit(world["rep"], world["factory"], sent("voice-0001", audio), NOW)
    assert first.created
    kept = first.visit.voice_note
    assert (kept.content_type, kept.size_bytes) == ("audio/webm", len(audio))
    assert abs(kept.duration_ms - 1200) <= 100
    key = voice_notes.key_of(kept.stored_name, kept.content_type)
    assert storage.store().read(key) == audio
    assert kept.stored_name not in ("voice-note", "voice_note")  # a random name, not the sent one
    again = visits.log_visit(world["rep"], world["factory"], sent("voice-0001", audio), NOW)
    assert (again.created, again.visit.id) == (False, first.visit.id)
    other = builders.audio_bytes(1.2, "webm", tone=660)
    with pytest.raises(Conflict) as conflict:
        visits.log_visit(world["rep"], world["factory"], sent("voice-0001", other), NOW)
    assert "client_key" in conflict.value.fields
    with pytest.raises(Conflict):
        visits.log_visit(world["rep"], world["factory"], sent("voice-0001", None), NOW)
    assert db.session.scalar(select(func.count()).select_from(VisitVoiceNote)) == 1


def test_a_refused_note_stores_nothing(world):
    before = stored_files()
    bad = b"not audio at all" * 100
    with pytest.raises(Invalid) as refused:
        visits.log_visit(world["rep"], world["factory"], sent("voice-0002", bad), NOW)
    assert "voice_note" in refused.value.fields
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    assert stored_files() == before


def test_a_visit_without_a_note_keeps_the_fingerprint_it_had_before_notes(world):
    # A visit queued on a phone before voice notes (or capture times) existed must not turn
    # into a conflict.
    plain = sent("voice-0003", None)
    content = {
        name: value
        for name, value in dataclasses.asdict(plain).items()
        if name not in ("voice_note", "photo_taken_at", "location_consent", "location_consent_at")
    }
    content.update(photos=[], task_ids=[], factory_id=7)
    text = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    assert plain.fingerprint(7) == hashlib.sha256(text.encode()).hexdigest()
    with_note = sent("voice-0003", builders.audio_bytes(1.0, "webm"))
    assert plain.fingerprint(7) != with_note.fingerprint(7)
