"""Hostile uploads through the routes that take them: a visit's photos (the outbox's API and the
page without a script), a factory's evidence, an import. Each is refused by its field with nothing
stored, or read as what it holds, and quickly (issue 19: bounded work per upload)."""

from __future__ import annotations

import html
import io
import time
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import ImportRow, ImportRun, Task, Visit
from crm.services import storage
from crm.services.accounts import auth
from crm.services.field import photos
from crm.services.growth import stages
from tests import builders, hostile_files
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
HERE = (29.87, 121.54)
# Each refusal below takes milliseconds; before the change one bomb took 1.6 s and six took 8 s.
SECONDS_BOUND = 10
BOMB_MESSAGE = "The photo is 12000×12000 pixels; send one of at most 40 megapixels."
BROKEN = [
    pytest.param(hostile_files.broken_exif("PNG"), "image/png", id="PNG, broken EXIF"),
    pytest.param(hostile_files.broken_exif("WEBP"), "image/webp", id="WebP, broken EXIF"),
    pytest.param(hostile_files.jpeg_with_nan_exif(), "image/jpeg", id="JPEG, NaN in EXIF"),
]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    belt = builders.belt(team, code="yongkang-hardware")
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="junior", lat=HERE[0], lng=HERE[1])
    stages.create_stage_tasks(factory, "junior", NOW)
    people = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"factory": factory, **people}


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def stored_files() -> list:
    return [entry.key for entry in storage.store().list(f"{photos.FOLDER}/")]


def visit_fields(factory) -> dict:
    return {
        "factory_id": str(factory.id),
        "client_key": "phone-key-bounds-1",
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "checked_in_at": "2026-11-25T09:59:00+08:00",
        "lat": str(HERE[0]),
        "lng": str(HERE[1]),
        "accuracy_m": "15",
        "position_at": "2026-11-25T01:58:40Z",
        "next": "3",
    }


def as_files(*photos_sent: tuple[bytes, str]) -> list:
    return [(io.BytesIO(data), f"IMG_{n}.img", kind) for n, (data, kind) in enumerate(photos_sent)]


def post_api(client, factory, files: list):
    token = csrf_token(client, "/account/")
    return client.post(
        "/api/v1/visits",
        data={**visit_fields(factory), "photos": files},
        headers={"X-CSRFToken": token},
        content_type="multipart/form-data",
    )


def post_page(client, factory, files: list):
    data = {**visit_fields(factory), "photos": files, "csrf_token": csrf_token(client, "/visit")}
    return client.post("/visit", data=data, content_type="multipart/form-data")


def hand_in(client, task, data: bytes, kind: str):
    token = csrf_token(client, "/portal/")
    photo = (io.BytesIO(data), "certificate.img", kind)
    return client.post(
        f"/portal/tasks/{task.id}/evidence",
        data={"csrf_token": token, f"task-{task.id}-photo": photo},
        content_type="multipart/form-data",
    )


def nothing_logged(before: list) -> bool:
    db.session.expire_all()
    visits = db.session.scalar(select(func.count()).select_from(Visit))
    return visits == 0 and stored_files() == before


def open_task(factory) -> Task:
    return db.session.scalars(
        select(Task)
        .where(Task.factory_id == factory.id, Task.kind != "measured", Task.status == "open")
        .order_by(Task.id)
    ).first()


# --- a visit's photos ----------------------------------------------------------------------


def test_six_photo_bombs_in_one_visit_are_refused_by_the_photos_field_at_once(app, world):
    client = signed_in(app, world["rep"])
    before = stored_files()
    bombs = as_files(*[(hostile_files.png_bomb(), "image/png")] * photos.PHOTOS_MAX)
    start = time.perf_counter()
    response = post_api(client, world["factory"], bombs)
    assert time.perf_counter() - start < SECONDS_BOUND
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] and error["fields"] == {"photos": BOMB_MESSAGE}
    assert nothing_logged(before)


@pytest.mark.parametrize(("data", "kind"), BROKEN)
def test_a_photo_with_unreadable_exif_is_refused_by_the_photos_field(app, world, data, kind):
    client = signed_in(app, world["rep"])
    before = stored_files()
    good = (builders.image_bytes(), "image/jpeg")
    response = post_api(client, world["factory"], as_files(good, (data, kind)))
    assert response.status_code == 422
    assert "EXIF" in response.get_json()["error"]["fields"]["photos"]
    assert nothing_logged(before)


def test_the_visit_page_shows_a_photo_bomb_by_the_photos_field(app, world):
    client = signed_in(app, world["rep"])
    before = stored_files()
    response = post_page(
        client, world["factory"], as_files((hostile_files.png_bomb(), "image/png"))
    )
    assert response.status_code == 422
    assert f'id="photos-error">{BOMB_MESSAGE}' in html.unescape(response.get_data(True))
    assert nothing_logged(before)


@pytest.mark.parametrize(("data", "kind"), BROKEN)
def test_the_visit_page_shows_unreadable_exif_by_the_photos_field(app, world, data, kind):
    client = signed_in(app, world["rep"])
    before = stored_files()
    response = post_page(client, world["factory"], as_files((data, kind)))
    page = html.unescape(response.get_data(True))
    assert response.status_code == 422
    assert 'id="photos-error">A photo\'s details (EXIF) are damaged' in page
    assert nothing_logged(before)


# --- a factory's evidence ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        pytest.param(hostile_files.png_bomb(), "image/png", BOMB_MESSAGE, id="12000×12000 PNG"),
        *[pytest.param(*case.values, "(EXIF) are damaged", id=case.id) for case in BROKEN],
    ],
)
def test_evidence_a_photo_the_server_cannot_take_is_refused_by_its_field(
    app, world, data, kind, message
):
    task = open_task(world["factory"])
    client = signed_in(app, world["factory_user"])
    before = stored_files()
    start = time.perf_counter()
    response = hand_in(client, task, data, kind)
    assert time.perf_counter() - start < SECONDS_BOUND
    page = html.unescape(response.get_data(True))
    assert response.status_code == 422
    assert f'<p class="error" id="task-{task.id}-photo-error">' in page and message in page
    db.session.expire_all()
    assert task.status == "open" and task.evidence_file is None
    assert stored_files() == before


# --- an import -----------------------------------------------------------------------------


def test_an_xlsx_that_declares_16384_columns_is_staged_as_the_cells_it_holds(app, world):
    code = builders.credit_code(7101)
    data = hostile_files.xlsx_with_dimension(
        {
            1: ["Unified social credit code", "Factory name", "Belt"],
            6000: [code, "Yongkang Hengda Hardware", "yongkang-hardware"],
        },
        "A1:XFD6000",
    )
    client = signed_in(app, world["manager"])
    token = csrf_token(client, "/imports/")
    start = time.perf_counter()
    response = client.post(
        "/imports/",
        data={"csrf_token": token, "kind": "factories", "file": (io.BytesIO(data), "bomb.xlsx")},
        content_type="multipart/form-data",
    )
    assert time.perf_counter() - start < SECONDS_BOUND
    assert response.status_code == 303
    db.session.expire_all()
    run = db.session.scalar(select(ImportRun).order_by(ImportRun.id.desc()))
    assert run.total_rows == 1
    (row,) = db.session.execute(select(ImportRow.line, ImportRow.cells)).all()
    assert row == (6000, [code, "Yongkang Hengda Hardware", "yongkang-hardware"])
