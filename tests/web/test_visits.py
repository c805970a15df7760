"""The visit form and the visit API: the page without a script, the outbox's JSON answers."""

from __future__ import annotations

import html
import io
import os
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from crm.extensions import db
from crm.models import FollowUp, Visit
from crm.services.accounts import auth
from crm.services.field import photos, voice_notes
from crm.services.install import stored_files
from tests import builders
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
HERE = (29.87, 121.54)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(
        builders.belt(team), owner=rep, name="Yongkang Hengda Hardware", lat=HERE[0], lng=HERE[1]
    )
    task = builders.task(factory, "Shop opened")
    people = {
        "rep": rep,
        "rep_other_team": builders.user("rep", team_=other_team),
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"factory": factory, "task": task, **people}


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def visit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit)) or 0


def fields(factory, **changes) -> dict:
    data = {
        "factory_id": str(factory.id),
        "client_key": "phone-key-0001",
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "notes": "Owner away; spoke to the sales lead",
        "checked_in_at": "2026-11-25T09:59:00+08:00",
        "lat": str(HERE[0]),
        "lng": str(HERE[1]),
        "accuracy_m": "15",
        "position_at": "2026-11-25T01:58:40Z",
        "next": "3",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def post_api(
    client, data: dict, files=None, voice_note: tuple[bytes, str] | None = None, **headers
):
    """The outbox's multipart request: photos as files, and a voice note as (bytes, file name)."""
    token = csrf_token(client, "/account/")
    body = dict(data)
    if files:
        body["photos"] = files
    if voice_note is not None:
        audio, name = voice_note
        body["voice_note"] = (io.BytesIO(audio), name, "audio/webm")
    return client.post(
        "/api/v1/visits",
        data=body,
        headers={"X-CSRFToken": token, **headers},
        content_type="multipart/form-data",
    )


# --- the page ---------------------------------------------------------------------------


def test_the_form_opens_on_the_factory_with_its_open_tasks(app, world):
    client = signed_in(app, world["rep"])
    page = html.unescape(client.get(f"/visit?factory={world['factory'].id}").get_data(True))
    assert re.search(rf'<option value="{world["factory"].id}"[^>]* selected>', page)
    assert "Shop opened" in page
    assert 'capture="environment"' in page
    assert re.search(r'name="client_key"[^>]*value="[0-9a-f]{32}"', page)


def test_the_form_carries_the_off_site_radius_and_each_factorys_place(app, world):
    # The phone warns before saving by the server's own radius (DESIGN.md "Check-in").
    client = signed_in(app, world["rep"])
    page = client.get(f"/visit?factory={world['factory'].id}").get_data(True)
    assert 'data-checkin-radius-m="300"' in page
    assert f'data-lat="{HERE[0]}" data-lng="{HERE[1]}"' in page
    (listed,) = client.get("/visit/factories.json").get_json()["factories"]
    assert (listed["lat"], listed["lng"], listed["owned"]) == (HERE[0], HERE[1], True)


def test_a_page_copied_for_offline_use_leaves_the_message_for_the_page_opened(app, world):
    client = signed_in(app, world["rep"])
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Accepted: Shop opened")]
    copied = client.get("/today", headers={"X-Offline-Keep": "1"})
    assert "Accepted: Shop opened" not in copied.get_data(True)
    assert "Set-Cookie" not in copied.headers  # it cannot undo a sign-out made meanwhile
    assert "Accepted: Shop opened" in client.get("/today").get_data(True)


def test_the_form_of_a_factory_out_of_scope_is_404(app, world):
    client = signed_in(app, world["rep_other_team"])
    assert client.get(f"/visit?factory={world['factory'].id}").status_code == 404


def test_the_form_without_a_script_logs_the_visit(app, world):
    client = signed_in(app, world["rep"])
    data = fields(world["factory"], task_ids=str(world["task"].id))
    data["csrf_token"] = csrf_token(client, "/visit")
    response = client.post("/visit", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{world['factory'].id}"
    db.session.expire_all()
    visit = db.session.scalar(select(Visit))
    assert visit.summary == "Shop photos retaken" and visit.off_site is False
    assert [t.title_en for t in visit.tasks] == ["Shop opened"]


def test_the_form_without_a_purpose_says_so_by_the_field(app, world):
    client = signed_in(app, world["rep"])
    data = fields(world["factory"], purpose="")
    data["csrf_token"] = csrf_token(client, "/visit")
    response = client.post("/visit", data=data)
    page = html.unescape(response.get_data(True))
    assert response.status_code == 422
    assert 'id="purpose-error">Choose what the visit was for.' in page
    assert 'value="phone-key-0001"' in page  # the key is kept for the corrected form
    assert visit_count() == 0


def test_the_phones_factory_list_holds_open_tasks_and_follow_ups(app, world):
    follow_up = builders.follow_up(world["factory"], world["rep"], NOW + timedelta(days=1))
    db.session.commit()
    client = signed_in(app, world["rep"])
    body = client.get("/visit/factories.json").get_json()
    (factory,) = body["factories"]
    assert factory["tasks"] == [{"id": world["task"].id, "title": "Shop opened", "kind": "custom"}]
    assert factory["follow_up"]["id"] == follow_up.id
    assert body["user_id"] == world["rep"].id


# --- the API: exactly once --------------------------------------------------------------


def test_a_visit_is_created_once_and_a_repeat_answers_the_same_visit(app, world):
    client = signed_in(app, world["rep"])
    data = fields(world["factory"])
    first = post_api(client, data, Idempotency_Key="phone-key-0001")
    again = post_api(client, data, Idempotency_Key="phone-key-0001")
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["visit"]["id"] == again.get_json()["visit"]["id"]
    assert first.get_json()["visit"]["off_site"] is False
    db.session.expire_all()
    assert visit_count() == 1
    follow_up = db.session.scalar(select(FollowUp).where(FollowUp.origin == "visit"))
    # In 3 days is Saturday the 28th: the Monday after, at 10:00.
    assert follow_up.due_at == datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_a_key_reused_with_other_content_is_409_naming_the_key(app, world):
    client = signed_in(app, world["rep"])
    post_api(client, fields(world["factory"]))
    response = post_api(client, fields(world["factory"], summary="Another visit"))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "conflict" and "client_key" in error["fields"]
    db.session.expire_all()
    assert visit_count() == 1


def test_the_header_key_and_the_body_key_must_agree(app, world):
    client = signed_in(app, world["rep"])
    response = post_api(client, fields(world["factory"]), Idempotency_Key="another-key-1")
    assert response.status_code == 400
    assert "client_key" in response.get_json()["error"]["fields"]
    assert visit_count() == 0


def test_a_photo_travels_in_the_same_request(app, world):
    client = signed_in(app, world["rep"])
    photo = (io.BytesIO(builders.image_bytes(2000, 1500)), "IMG_0001.JPG", "image/jpeg")
    response = post_api(client, fields(world["factory"]), files=[photo])
    assert response.status_code == 201
    db.session.expire_all()
    visit = db.session.get(Visit, response.get_json()["visit"]["id"])
    (stored,) = visit.photos
    assert stored.width == 1600 and "IMG_0001" not in stored.stored_name
    served = client.get(f"/visits/{visit.id}/photos/{stored.id}?size=thumb")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline;")
    other = signed_in(app, world["rep_other_team"])
    assert other.get(f"/visits/{visit.id}/photos/{stored.id}").status_code == 404


def test_a_visit_whose_commit_fails_is_taken_when_sent_again_and_its_leftovers_swept(
    app, world, monkeypatch, local_store
):
    """The database goes away at the commit: 503, and the outbox's second try under the same
    key makes the visit. The first try's files stay until the daily sweep finds that no row
    names them (the database might have committed it after all)."""
    # A folder whichever store the run uses: the files are aged by their times.
    client = signed_in(app, world["rep"])
    data = fields(world["factory"])

    def on_disk() -> set:
        return {local_store.path(entry.key) for entry in local_store.list("")}

    def body() -> dict:
        note = (io.BytesIO(builders.audio_bytes()), "voice-note.webm", "audio/webm")
        return {**data, "voice_note": note}

    def photo():
        return [(io.BytesIO(builders.image_bytes(800, 600)), "IMG_0002.JPG", "image/jpeg")]

    def database_gone():
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    with monkeypatch.context() as outage:
        outage.setattr(db.session, "commit", database_gone)
        refused = post_api(client, body(), files=photo())
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    assert visit_count() == 0
    leftovers = on_disk()
    assert len(leftovers) == 3  # the photo, its thumbnail and the voice note

    again = post_api(client, body(), files=photo())
    assert again.status_code == 201
    db.session.expire_all()
    visit = db.session.get(Visit, again.get_json()["visit"]["id"])
    (kept,) = visit.photos
    note = visit.voice_note
    its_files = {
        local_store.path(photos.key_of(kept.stored_name)),
        local_store.path(photos.key_of(kept.stored_name, thumbnail=True)),
        local_store.path(voice_notes.key_of(note.stored_name, note.content_type)),
    }
    assert on_disk() == leftovers | its_files

    # The clock is frozen at NOW (the day folder's date); the files' times say so too.
    for path in on_disk():
        os.utime(path, (NOW.timestamp(), NOW.timestamp()))
    a_day_later = NOW + timedelta(days=1, hours=2)
    removed = sum(
        c["orphan_files_removed"] for c in stored_files.sweep_orphans(db.session, a_day_later)
    )
    assert removed == 2  # the first try's photo (with its thumbnail) and its voice note
    assert on_disk() == its_files


# --- the API: bad input gets a clear answer by the field, and changes nothing -----------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": None}, "purpose"),
        ({"notes": "x" * 100_000}, "notes"),
        ({"lat": "200"}, "lat"),
        ({"lng": None}, "lng"),
        ({"checked_in_at": "yesterday"}, "checked_in_at"),
        ({"checked_in_at": "2026-09-01T10:00:00+08:00"}, "checked_in_at"),
        ({"next": "date", "next_on": "2026-11-20"}, "next_on"),
        ({"next": "date"}, "next_on"),
        ({"client_key": "short"}, "client_key"),
        ({"photo_taken_at": "yesterday"}, "photo_taken_at"),
        ({"photo_taken_at": "2026-11-25T09:58:00"}, "photo_taken_at"),  # no offset
        ({"photo_taken_at": NOW.isoformat()}, "photo_taken_at"),  # and no photo
    ],
)
def test_bad_input_is_refused_by_the_field(app, world, change, field):
    client = signed_in(app, world["rep"])
    response = post_api(client, fields(world["factory"], **change))
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    db.session.expire_all()
    assert visit_count() == 0


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        ((io.BytesIO(b"%PDF-1.7 not a photo"), "scan.jpg", "image/jpeg"), "JPEG, PNG or WebP"),
        ((io.BytesIO(b"\xff" * (30 * 1024 * 1024)), "huge.jpg", "image/jpeg"), "at most 10 MB"),
    ],
    ids=["not an image", "30 MB"],
)
def test_a_bad_photo_is_refused_by_the_field(app, world, photo, message):
    client = signed_in(app, world["rep"])
    response = post_api(client, fields(world["factory"]), files=[photo])
    assert response.status_code == 422
    assert message in response.get_json()["error"]["fields"]["photos"]
    assert visit_count() == 0


def test_a_factory_out_of_scope_is_404_and_a_factory_user_is_refused(app, world):
    other = signed_in(app, world["rep_other_team"])
    response = post_api(other, fields(world["factory"]))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    factory_user = signed_in(app, world["factory_user"])
    assert post_api(factory_user, fields(world["factory"])).status_code == 404
    assert visit_count() == 0


def test_an_anonymous_outbox_is_asked_to_sign_in(app, world):
    client = app.test_client()
    assert client.get("/api/v1/session").status_code == 401
    response = client.post("/api/v1/visits", data=fields(world["factory"]))
    assert response.status_code in (400, 401)
    assert visit_count() == 0


def test_the_session_answer_names_the_user_and_a_fresh_token(app, world):
    client = signed_in(app, world["rep"])
    body = client.get("/api/v1/session").get_json()
    assert body["user_id"] == world["rep"].id and body["csrf_token"]


def test_a_contact_of_another_factory_is_refused_by_the_field(app, world):
    other = builders.factory(world["factory"].belt, owner=world["rep"])
    stranger = builders.contact(other, name="Li Si")
    db.session.commit()
    client = signed_in(app, world["rep"])
    response = post_api(client, fields(world["factory"], contact_id=str(stranger.id)))
    assert response.status_code == 422
    assert "contact_id" in response.get_json()["error"]["fields"]
    assert visit_count() == 0
