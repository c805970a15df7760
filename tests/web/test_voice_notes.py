"""A voice note on a visit: one multipart request with the visit, exactly once, staff only.

DESIGN.md "Exactly once" (the note's hash is part of the fingerprint) and "What a factory
user never sees" (voice notes): served after the scope check, never on the portal.
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Visit, VisitVoiceNote
from crm.services import storage
from crm.services.field import voice_notes
from tests import builders
from tests.web.helpers import csrf_token
from tests.web.test_visits import fields, post_api, signed_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, name="Yongkang Hengda Hardware")
    people = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager_other_belt": builders.user("manager", leads=[other_team]),
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"factory": factory, **people}


def send(client, data: dict, audio: bytes | None, name: str = "voice-note.webm"):
    return post_api(client, data, voice_note=None if audio is None else (audio, name))


def counts() -> tuple[int, int, int]:
    visits = db.session.scalar(select(func.count()).select_from(Visit))
    notes = db.session.scalar(select(func.count()).select_from(VisitVoiceNote))
    return visits, notes, len(list(storage.store().list(f"{voice_notes.FOLDER}/")))


def test_the_api_keeps_a_voice_note_once_and_serves_it_to_staff_in_scope(app, world):
    client = signed_in(app, world["rep"])
    audio = builders.audio_bytes(1.5, "webm")
    first = send(client, fields(world["factory"]), audio)
    assert first.status_code == 201, first.get_json()
    visit_id = first.get_json()["visit"]["id"]
    again = send(client, fields(world["factory"]), audio, name="retry.webm")
    assert again.status_code == 200 and again.get_json()["visit"]["id"] == visit_id
    other = send(client, fields(world["factory"]), builders.audio_bytes(1.5, "webm", tone=660))
    assert other.status_code == 409
    assert "client_key" in other.get_json()["error"]["fields"]
    assert counts()[:2] == (1, 1)

    note = db.session.scalar(select(VisitVoiceNote))
    assert abs(note.duration_ms - 1500) <= 100 and note.content_type == "audio/webm"
    for user in ("rep", "manager"):
        served = signed_in(app, world[user]).get(f"/visits/{visit_id}/voice")
        assert served.status_code == 200
        assert served.mimetype == "audio/webm"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Content-Disposition"].startswith("inline")
        assert served.data == audio
    for user in ("factory_user", "rep_other_team", "manager_other_belt"):
        assert signed_in(app, world[user]).get(f"/visits/{visit_id}/voice").status_code == 404


def test_the_factory_page_plays_it_and_the_portal_shows_nothing_of_it(app, world):
    client = signed_in(app, world["rep"])
    response = send(client, fields(world["factory"]), builders.audio_bytes(2.0, "mp4"), "a.m4a")
    assert response.status_code == 201
    visit_id = response.get_json()["visit"]["id"]
    page = html.unescape(client.get(f"/factories/{world['factory'].id}").get_data(True))
    assert f'<audio controls preload="none" src="/visits/{visit_id}/voice"' in page
    assert "Voice note, 0:02" in page
    portal = signed_in(app, world["factory_user"])
    for path in ("/portal/",):
        body = portal.get(path).get_data(True)
        assert "Shop photos retaken" in body  # the visit itself is there, with its summary
        assert "/voice" not in body and "<audio" not in body and "Voice note" not in body
    assert portal.get(f"/visits/{visit_id}/voice").status_code == 404


def test_a_visit_without_a_note_has_no_player_and_its_note_url_is_404(app, world):
    client = signed_in(app, world["rep"])
    response = send(client, fields(world["factory"]), None)
    assert response.status_code == 201
    visit_id = response.get_json()["visit"]["id"]
    assert "<audio" not in client.get(f"/factories/{world['factory'].id}").get_data(True)
    assert client.get(f"/visits/{visit_id}/voice").status_code == 404


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (b"%PDF-1.7 not a recording at all" * 20, "WebM, MP4 or Ogg"),
        ("long", "2 minutes"),
        (b"\x1a\x45\xdf\xa3" + bytes(voice_notes.VOICE_MAX_BYTES), "3 MB"),
    ],
)
def test_a_bad_note_is_refused_by_its_field_and_nothing_is_stored(app, world, audio, message):
    if audio == "long":
        audio = builders.audio_bytes(125, "webm", rate=8000, tone=0)
    client = signed_in(app, world["rep"])
    before = counts()
    response = send(client, fields(world["factory"]), audio)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert message in error["fields"]["voice_note"]
    assert counts() == before == (0, 0, before[2])
    # Corrected, the same key is accepted: it was bound only once a visit was accepted.
    fixed = send(client, fields(world["factory"]), builders.audio_bytes(1.0, "ogg"), "n.ogg")
    assert fixed.status_code == 201


def test_the_form_without_a_script_takes_a_note_and_says_what_is_wrong_by_the_field(app, world):
    client = signed_in(app, world["rep"])
    page = html.unescape(client.get("/visit").get_data(True))
    assert 'type="file" name="voice_note" id="voice_note" accept="audio/*"' in page
    data = fields(world["factory"], client_key="form-key-0001")
    data["csrf_token"] = csrf_token(client, "/visit")
    data["voice_note"] = (io.BytesIO(b"just text, not audio" * 30), "note.webm", "audio/webm")
    refused = client.post("/visit", data=data, content_type="multipart/form-data")
    assert refused.status_code == 422
    body = html.unescape(refused.get_data(True))
    assert 'id="voice_note-error">A voice note must be a WebM, MP4 or Ogg' in body
    assert counts()[:2] == (0, 0)
    data["voice_note"] = (io.BytesIO(builders.audio_bytes(1.0, "mp4")), "note.m4a", "audio/mp4")
    saved = client.post("/visit", data=data, content_type="multipart/form-data")
    assert saved.status_code == 303
    assert db.session.scalar(select(VisitVoiceNote.content_type)) == "audio/mp4"
