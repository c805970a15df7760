"""Logging a visit: check-in place and time, exactly-once keys, photos, tasks and follow-ups."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, Invalid, NotAllowed
from crm.extensions import db
from crm.models import FollowUp, Visit
from crm.services import storage
from crm.services.field import photos, visits
from tests import builders

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
HERE = (29.870000, 121.540000)
# About 1.1 km north of HERE.
FAR = (29.880000, 121.540000)


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, lat=HERE[0], lng=HERE[1])
    return {
        "rep": rep,
        "other_rep": builders.user("rep", team_=team),
        "manager": builders.user("manager", leads=[team]),
        "factory": factory,
    }


def sent(key: str = "key-0001", **fields) -> visits.Submission:
    fields.setdefault("purpose", "follow_up")
    fields.setdefault("checked_in_at", NOW - timedelta(minutes=1))
    fields.setdefault("lat", HERE[0])
    fields.setdefault("lng", HERE[1])
    fields.setdefault("accuracy_m", 12.0)
    fields.setdefault("position_at", NOW - timedelta(minutes=1, seconds=20))
    return visits.Submission(client_key=key, **fields)


def upload(data: bytes) -> photos.Upload:
    return photos.Upload(data=data, sha256=hashlib.sha256(data).hexdigest())


def visit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Visit))


# --- where and when ---------------------------------------------------------------------


def test_a_precise_fresh_check_in_at_the_factory_is_on_site(world):
    visit = visits.log_visit(world["rep"], world["factory"], sent(), NOW).visit
    assert visit.distance_m == 0 and visit.off_site is False
    assert visit.utc_offset_minutes == 0
    assert world["factory"].last_visit_at == visit.checked_in_at


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"lat": FAR[0], "lng": FAR[1]}, "farther than the radius"),
        ({"accuracy_m": 150.0}, "less accurate than 100 m"),
        ({"position_at": NOW - timedelta(minutes=4)}, "position older than 2 minutes"),
        ({"lat": None, "lng": None, "accuracy_m": None, "position_at": None}, "no position"),
    ],
)
def test_a_check_in_is_off_site_when(world, change, why):
    visit = visits.log_visit(world["rep"], world["factory"], sent(**change), NOW).visit
    assert visit.off_site is True, why


def test_the_distance_is_measured_to_the_factory(world):
    visit = visits.log_visit(world["rep"], world["factory"], sent(lat=FAR[0], lng=FAR[1]), NOW)
    assert 1_000 < visit.visit.distance_m < 1_200


def test_a_factory_with_no_location_takes_the_first_precise_check_in(world):
    factory = world["factory"]
    factory.lat = factory.lng = None
    visits.log_visit(world["rep"], factory, sent("key-vague", accuracy_m=400.0), NOW)
    assert factory.lat is None
    visit = visits.log_visit(world["rep"], factory, sent("key-sharp", lat=FAR[0], lng=FAR[1]), NOW)
    assert (factory.lat, factory.lng) == FAR
    assert visit.visit.off_site is False and visit.visit.distance_m == 0


@pytest.mark.parametrize(
    "checked_in_at",
    [NOW - timedelta(days=31), NOW + timedelta(minutes=10)],
    ids=["31 days ago", "10 minutes ahead"],
)
def test_a_check_in_time_outside_the_window_is_refused(world, checked_in_at):
    with pytest.raises(Invalid) as refused:
        visits.log_visit(world["rep"], world["factory"], sent(checked_in_at=checked_in_at), NOW)
    assert "checked_in_at" in refused.value.fields
    assert visit_count() == 0


def test_the_phones_offset_is_kept(world):
    phone_time = datetime(2026, 11, 25, 9, 59, tzinfo=clock.zone())
    visit = visits.log_visit(world["rep"], world["factory"], sent(checked_in_at=phone_time), NOW)
    assert visit.visit.utc_offset_minutes == 480


# --- exactly once -----------------------------------------------------------------------


def test_the_same_submission_twice_is_one_visit(world):
    first = visits.log_visit(world["rep"], world["factory"], sent(summary="Shop opened"), NOW)
    again = visits.log_visit(world["rep"], world["factory"], sent(summary="Shop opened"), NOW)
    assert first.created and not again.created
    assert again.visit.id == first.visit.id
    assert visit_count() == 1


def test_a_key_reused_with_other_content_is_a_conflict(world):
    visits.log_visit(world["rep"], world["factory"], sent(summary="Shop opened"), NOW)
    with pytest.raises(Conflict) as refused:
        visits.log_visit(world["rep"], world["factory"], sent(summary="Something else"), NOW)
    assert "client_key" in refused.value.fields
    assert visit_count() == 1


def test_another_users_key_never_returns_someone_elses_visit(world):
    mine = visits.log_visit(world["rep"], world["factory"], sent(), NOW).visit
    manager_visit = visits.log_visit(world["manager"], world["factory"], sent(), NOW).visit
    assert manager_visit.id != mine.id and manager_visit.rep_id == world["manager"].id


def test_a_refused_submission_does_not_bind_its_key(world):
    with pytest.raises(Invalid):
        visits.log_visit(
            world["rep"], world["factory"], sent(checked_in_at=NOW + timedelta(hours=2)), NOW
        )
    corrected = visits.log_visit(world["rep"], world["factory"], sent(), NOW)
    assert corrected.created


def test_a_factory_user_may_not_log_a_visit(world):
    factory_user = builders.user("factory", factory=world["factory"])
    with pytest.raises(NotAllowed):
        visits.log_visit(factory_user, world["factory"], sent(), NOW)


# --- follow-ups and tasks ---------------------------------------------------------------


def test_a_visit_completes_the_follow_up_it_names(world):
    factory, rep = world["factory"], world["rep"]
    older = builders.follow_up(factory, rep, NOW - timedelta(days=2))
    named = builders.follow_up(factory, rep, NOW + timedelta(days=1))
    visit = visits.log_visit(rep, factory, sent(follow_up_id=named.id), NOW).visit
    assert named.status == "done" and named.completed_by_visit_id == visit.id
    assert older.status == "open"


def test_a_visit_otherwise_completes_the_oldest_open_follow_up(world):
    factory, rep = world["factory"], world["rep"]
    older = builders.follow_up(factory, rep, NOW - timedelta(days=2))
    later = builders.follow_up(factory, rep, NOW + timedelta(days=3))
    visit = visits.log_visit(rep, factory, sent(), NOW).visit
    assert older.status == "done" and older.completed_by_visit_id == visit.id
    assert later.status == "open"


def test_a_follow_up_of_another_factory_is_refused(world):
    other = builders.factory(world["factory"].belt, owner=world["rep"])
    elsewhere = builders.follow_up(other, world["rep"], NOW)
    with pytest.raises(Invalid) as refused:
        visits.log_visit(world["rep"], world["factory"], sent(follow_up_id=elsewhere.id), NOW)
    assert "follow_up_id" in refused.value.fields


def test_a_quick_pick_counts_from_the_check_in_day(world):
    visits.log_visit(world["rep"], world["factory"], sent(next_in_days=2), NOW)
    follow_up = db.session.scalar(select(FollowUp).where(FollowUp.origin == "visit"))
    assert clock.local(follow_up.due_at).date() == date(2026, 11, 27)
    assert clock.local(follow_up.due_at).hour == 10
    assert world["factory"].next_follow_up_at == follow_up.due_at


def test_a_visit_queued_for_days_does_not_plan_a_follow_up_in_the_past(world):
    queued = sent(checked_in_at=NOW - timedelta(days=6), position_at=NOW - timedelta(days=6))
    queued.next_in_days = 3
    visits.log_visit(world["rep"], world["factory"], queued, NOW)
    follow_up = db.session.scalar(select(FollowUp).where(FollowUp.origin == "visit"))
    assert clock.local(follow_up.due_at).date() == date(2026, 11, 25)


def test_a_next_date_before_the_visit_is_refused(world):
    with pytest.raises(Invalid) as refused:
        visits.log_visit(world["rep"], world["factory"], sent(next_on=date(2026, 11, 20)), NOW)
    assert "next_on" in refused.value.fields
    assert visit_count() == 0


def test_ticked_tasks_are_done_and_recorded_on_the_visit(world):
    task = builders.task(world["factory"], "Shop opened")
    visit = visits.log_visit(world["rep"], world["factory"], sent(task_ids=[task.id]), NOW).visit
    assert task.status == "done"
    assert visit.tasks == [task]


def test_a_task_of_another_factory_or_a_measured_one_is_refused(world):
    other = builders.factory(world["factory"].belt, owner=world["rep"])
    foreign = builders.task(other, "Shop opened")
    measured = builders.task(world["factory"], "Answers fast", kind="measured")
    for task in (foreign, measured):
        with pytest.raises(Invalid) as refused:
            visits.log_visit(world["rep"], world["factory"], sent(task_ids=[task.id]), NOW)
        assert "task_ids" in refused.value.fields


# --- photos -----------------------------------------------------------------------------


def test_photos_are_stored_reencoded_without_metadata(world):
    exif = Image.Exif()
    exif[0x0132] = "2026:11:25 09:58:00"  # DateTime
    exif[0x8825] = {2: (29.0, 52.0, 12.0)}  # a GPS position that must not be kept
    data = builders.image_bytes(2400, 1200, exif=exif.tobytes())
    visit = visits.log_visit(world["rep"], world["factory"], sent(photos=[upload(data)]), NOW).visit
    (photo,) = visit.photos
    assert (photo.width, photo.height) == (1600, 800)
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    stored = storage.store().read(photos.key_of(photo.stored_name))
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert storage.store().exists(photos.key_of(photo.stored_name, thumbnail=True))
    # A random name in the folder of the day it was written (UTC), never the upload's name.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/[0-9a-f]{32}", photo.stored_name), photo.stored_name


def test_a_photo_taken_sideways_is_stored_upright_and_a_png_as_jpeg(world):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; the pixels must be turned back
    sideways = builders.image_bytes(400, 300, exif=exif.tobytes())
    screenshot = builders.image_bytes(300, 200, kind="PNG")
    sent_photos = [upload(sideways), upload(screenshot)]
    visit = visits.log_visit(world["rep"], world["factory"], sent(photos=sent_photos), NOW).visit
    upright, png = visit.photos
    assert (upright.width, upright.height) == (300, 400)
    stored = Image.open(kept_file(photos.key_of(upright.stored_name)))
    assert stored.size == (300, 400) and not stored.getexif()
    assert (png.width, png.height) == (300, 200) and png.content_type == "image/jpeg"
    assert Image.open(kept_file(photos.key_of(png.stored_name))).format == "JPEG"
    thumb = Image.open(kept_file(photos.key_of(upright.stored_name, thumbnail=True)))
    assert max(thumb.size) <= photos.THUMB_SIDE and thumb.width < thumb.height


def kept_file(key: str) -> io.BytesIO:
    return io.BytesIO(storage.store().read(key))


def kept_photos() -> list[str]:
    return sorted(entry.key for entry in storage.store().list(f"{photos.FOLDER}/"))


def test_a_file_that_is_not_an_image_is_refused(world):
    with pytest.raises(Invalid) as refused:
        visits.log_visit(
            world["rep"], world["factory"], sent(photos=[upload(b"%PDF-1.7 not a photo")]), NOW
        )
    assert "photos" in refused.value.fields
    assert visit_count() == 0


def test_a_photo_over_the_size_limit_is_refused(world):
    class File:
        def read(self, size: int) -> bytes:
            return b"\xff" * size

    with pytest.raises(Invalid) as refused:
        photos.read_uploads([File()])
    assert "photos" in refused.value.fields


def test_a_video_shoot_visit_needs_a_photo(world):
    with pytest.raises(Invalid) as refused:
        visits.log_visit(world["rep"], world["factory"], sent(purpose="video_shoot"), NOW)
    assert "photos" in refused.value.fields


def test_a_repeat_with_the_same_photo_is_the_same_visit_and_stores_nothing_again(world):
    data = builders.image_bytes()
    first = visits.log_visit(world["rep"], world["factory"], sent(photos=[upload(data)]), NOW)
    files = kept_photos()
    again = visits.log_visit(world["rep"], world["factory"], sent(photos=[upload(data)]), NOW)
    assert again.visit.id == first.visit.id and not again.created
    assert kept_photos() == files
    with pytest.raises(Conflict):
        other = builders.image_bytes(41, 30)
        visits.log_visit(world["rep"], world["factory"], sent(photos=[upload(other)]), NOW)
