"""A store that is misconfigured or down (a wrong bucket, wrong keys, an endpoint that does not
answer): the app starts, /readyz answers 503 naming the store, and an upload answers 503 with
Retry-After keeping nothing of the request, so the phone's outbox sends it again later."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import create_app
from crm.errors import StorageUnavailable
from crm.extensions import db
from crm.models import Task, Visit, VisitPhoto, VisitVoiceNote
from crm.services import storage
from crm.services.install import retention
from tests import builders, s3server
from tests.web.helpers import csrf_token, sign_in

BROKEN = {
    "wrong bucket": ({"CRM_STORAGE_URL": "s3://no-such-bucket/crm"}, "storage no such bucket"),
    "wrong keys": ({"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, "storage access denied"),
    "endpoint down": ({}, "storage unreachable"),  # the endpoint: a port nothing listens on
}


@pytest.fixture(params=list(BROKEN))
def broken(request, s3_server) -> tuple[dict, str]:
    changes, said = BROKEN[request.param]
    settings = {**s3_server.env("outage"), **changes}
    if request.param == "endpoint down":
        settings["CRM_S3_ENDPOINT_URL"] = f"http://127.0.0.1:{s3server.spare_port()}"
    return settings, said


@pytest.fixture
def broken_store(app, broken, monkeypatch) -> str:
    """The suite's app pointed at the broken store; what /readyz must say."""
    settings, said = broken
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    return said


def test_the_app_starts_and_readyz_names_the_store(app, broken, database_url):
    settings, said = broken
    started = time.perf_counter()
    fresh = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, **settings)
    client = fresh.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.get_json()["status"] == "unavailable"
    assert ready.get_json()["problem"].startswith(said), ready.get_json()
    assert time.perf_counter() - started < 15  # short timeouts: a dead store fails fast
    with fresh.app_context():
        db.engine.dispose()


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, lat=29.87, lng=121.54)
    task = builders.task(factory, "Shop opened")
    owner = builders.user("factory", factory=factory)
    db_session.commit()
    return {"rep": rep, "factory": factory, "task": task, "owner": owner}


def counted(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def post_visit(client, factory, key: str, **files):
    """The outbox's multipart request of a visit, with its photos or voice note."""
    body = {
        "factory_id": str(factory.id),
        "client_key": key,
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "checked_in_at": datetime.now(UTC).isoformat(),
        "lat": "29.87",
        "lng": "121.54",
        "accuracy_m": "15",
        **files,
    }
    return client.post(
        "/api/v1/visits",
        data=body,
        headers={"X-CSRFToken": csrf_token(client, "/account/")},
        content_type="multipart/form-data",
    )


def assert_retry_later(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_a_visit_with_a_photo_answers_503_and_keeps_nothing(app, world, broken_store):
    client = app.test_client()
    sign_in(client, world["rep"].email)
    photo = (io.BytesIO(builders.image_bytes()), "IMG_0001.JPG", "image/jpeg")
    response = post_visit(client, world["factory"], "phone-key-outage-1", photos=[photo])
    assert_retry_later(response)
    assert response.get_json()["error"]["code"] == "unavailable"
    assert "try again" in response.get_json()["error"]["message"]
    assert counted(Visit) == 0 and counted(VisitPhoto) == 0


def test_a_visit_with_a_voice_note_answers_503_and_keeps_nothing(app, world, broken_store):
    client = app.test_client()
    sign_in(client, world["rep"].email)
    note = (io.BytesIO(builders.audio_bytes()), "voice-note.webm", "audio/webm")
    response = post_visit(client, world["factory"], "phone-key-outage-2", voice_note=note)
    assert_retry_later(response)
    assert counted(Visit) == 0 and counted(VisitVoiceNote) == 0


def test_evidence_handed_in_from_the_portal_answers_503_and_the_task_stays_open(
    app, world, broken_store
):
    client = app.test_client()
    sign_in(client, world["owner"].email)
    task = world["task"]
    photo = (io.BytesIO(builders.image_bytes()), "certificate.png", "image/png")
    response = client.post(
        f"/portal/tasks/{task.id}/evidence",
        data={"csrf_token": csrf_token(client, "/portal/"), f"task-{task.id}-photo": photo},
        content_type="multipart/form-data",
    )
    assert_retry_later(response)
    assert "try again" in response.get_data(as_text=True)
    db.session.expire_all()
    task = db.session.get(Task, task.id)
    assert task.status == "open" and task.evidence_file is None


def test_retention_keeps_the_rows_whose_files_it_could_not_delete(app, world, monkeypatch):
    """Files first, then rows: a store that is down stops the batch with nothing deleted."""
    visit = builders.visit(world["factory"], world["rep"])
    photo = builders.visit_photo(visit)
    photo.created_at = datetime.now(UTC) - timedelta(days=800)
    db.session.flush()
    monkeypatch.setitem(app.config, "CRM_STORAGE_URL", "s3://crm-test/crm")
    endpoint = f"http://127.0.0.1:{s3server.spare_port()}"  # nothing listens there
    monkeypatch.setitem(app.config, "CRM_S3_ENDPOINT_URL", endpoint)
    assert storage.store().probe()
    with pytest.raises(StorageUnavailable):
        for _counts in retention.delete_media(db.session, datetime.now(UTC), "retention"):
            pass
    assert counted(VisitPhoto) == 1
