"""Photos that do not prove a visit (issue 22, point 1): the same bytes as an earlier photo of
the install, a re-saved, slightly cropped copy of another visit's photo, a capture time long
before the check-in or in the future, or none, flag the photo and put its visit in the manager's
review; a photo of its own taken on the spot does not. A purpose may need a photo taken on the
spot."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.models import Visit
from crm.services.field import photos, visits
from crm.services.install import settings
from crm.services.trust import flagged, photo_flags
from tests import builders
from tests.unit.test_visits import NOW, sent, upload, world  # noqa: F401  (the fixture)


def picture(seed: int, size=(1600, 1200)) -> Image.Image:
    """A photo-like picture: shapes, colours and light of its own for each seed."""
    chance = random.Random(seed)
    image = Image.new("RGB", size, tuple(chance.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y = chance.randrange(size[0]), chance.randrange(size[1])
        w, h = chance.randrange(80, 500), chance.randrange(80, 400)
        colour = tuple(chance.randrange(256) for _ in range(3))
        draw.ellipse(
            (x, y, x + w, y + h), fill=colour
        ) if chance.random() < 0.5 else draw.rectangle((x, y, x + w, y + h), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(3))


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def log(world, key: str, *photos: bytes, minutes: int = 1, taken=None) -> Visit:  # noqa: F811
    """A visit with these photos, each taken at the check-in unless `taken` gives the times."""
    checked_in_at = NOW - timedelta(minutes=minutes)
    submission = sent(
        key,
        photos=[upload(data) for data in photos],
        photo_taken_at=[checked_in_at] * len(photos) if taken is None else taken,
    )
    submission.checked_in_at = checked_in_at
    return visits.log_visit(world["rep"], world["factory"], submission, NOW).visit


def test_a_photo_of_its_own_is_not_flagged(world):  # noqa: F811
    first = log(world, "key-first", jpeg(picture(1)))
    second = log(world, "key-second", jpeg(picture(2)))
    assert not any(photo.flagged for photo in first.photos + second.photos)
    assert not second.photos_doubtful
    assert (
        photo_flags.distance(first.photos[0].phash, second.photos[0].phash) > photo_flags.NEAR_BITS
    )


def test_the_same_bytes_on_another_visit_are_flagged_as_the_same_photo(world):  # noqa: F811
    data = jpeg(picture(3))
    first = log(world, "key-first", data)
    again = log(world, "key-again", data)
    (photo,) = again.photos
    assert photo.same_as_id == first.photos[0].id and again.photos_doubtful
    # Sent twice within one visit, it is a double tap, not a reuse.
    twice = log(world, "key-twice", jpeg(picture(4)), jpeg(picture(4)))
    assert not twice.photos_doubtful


def test_a_re_saved_slightly_cropped_copy_is_flagged_as_nearly_the_same(world):  # noqa: F811
    original = picture(5)
    first = log(world, "key-first", jpeg(original))
    width, height = original.size
    cropped = original.crop((40, 30, width - 30, height - 25)).resize((1500, 1125))
    copy = log(world, "key-copy", jpeg(cropped, quality=70))
    (photo,) = copy.photos
    assert photo.same_as_id is None and photo.near_id == first.photos[0].id
    assert copy.photos_doubtful


def test_a_copy_is_found_across_reps_and_factories_by_a_quarter_of_its_hash(world):  # noqa: F811
    data = jpeg(picture(6))
    first = log(world, "key-first", data)
    elsewhere = builders.factory(world["factory"].belt, owner=world["other_rep"])
    submission = sent("key-other", photos=[upload(jpeg(picture(6), quality=80))])
    other = visits.log_visit(world["other_rep"], elsewhere, submission, NOW).visit
    assert other.photos[0].near_id == first.photos[0].id


def test_a_doubtful_photo_puts_its_visit_in_the_review(world):  # noqa: F811
    data = jpeg(picture(7))
    log(world, "key-first", data)
    again = log(world, "key-again", data)
    db.session.flush()
    statement = select(Visit.id).where(flagged.flagged_condition())
    assert again.id in set(db.session.scalars(statement))
    listing = flagged.page(world["manager"], flagged.FlaggedFilters(), NOW.date())
    assert again.id in [visit.id for visit in listing.visits]


@pytest.mark.parametrize(("first", "second", "bits"), [("ffff", "fffe", 1), ("0000", "ffff", 16)])
def test_the_distance_counts_the_bits_that_differ(first, second, bits):
    assert photo_flags.distance(first * 4, second * 4) == bits * 4
    assert photo_flags.quarters("0001000200030004") == (1, 2, 3, 4)


# --- capture times ----------------------------------------------------------------------------


def exif_jpeg(image: Image.Image, taken: str, offset: str | None = None) -> bytes:
    """A camera's original: its capture time (and the clock's offset) in its EXIF."""
    exif = Image.Exif()
    details = {photos.DATE_TIME_ORIGINAL: taken}
    if offset:
        details[photos.OFFSET_TIME_ORIGINAL] = offset
    exif[photos.EXIF_IFD] = details
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, exif=exif)
    return buffer.getvalue()


def test_a_capture_time_long_before_the_check_in_in_the_future_or_none_flags_the_photo(world):  # noqa: F811
    checked_in_at = NOW - timedelta(minutes=1)
    for seed, (key, taken, expected) in enumerate(
        (
            ("key-on-the-spot", checked_in_at - timedelta(minutes=9), None),
            ("key-an-hour-before", checked_in_at - timedelta(hours=1), "early"),
            ("key-future", NOW + timedelta(minutes=6), "future"),
            ("key-none", None, "unknown"),
        )
    ):
        visit = log(world, key, jpeg(picture(100 + seed)), taken=[taken])
        (photo,) = visit.photos
        assert photo.time_flag == expected, key
        assert photo.taken_at == (taken.replace(microsecond=0) if taken else None), key
        assert visit.photos_doubtful is (expected is not None), key
        assert (visit.id in flagged.photo_kinds([visit.id])) is (expected is not None), key


def test_an_original_s_own_exif_gives_its_capture_time(world):  # noqa: F811
    # 09:58 on the install's clock (Shanghai) is 01:58 UTC, a minute before the check-in.
    local = log(world, "key-exif", exif_jpeg(picture(11), "2026:11:25 09:58:00"), taken=[])
    assert local.photos[0].taken_at == NOW - timedelta(minutes=2)
    assert local.photos[0].time_flag is None and not local.photos_doubtful
    # An offset written beside the time is the clock's own; an hour early here.
    zoned = log(
        world, "key-exif-zoned", exif_jpeg(picture(12), "2026:11:25 09:00:00", "+09:00"), taken=[]
    )
    assert zoned.photos[0].taken_at == NOW - timedelta(hours=2)
    assert zoned.photos[0].time_flag == "early"


def test_a_purpose_that_needs_a_photo_on_the_spot_refuses_a_visit_without_one(world):  # noqa: F811
    settings.put(world["manager"], "photo_on_the_spot_purposes", ["follow_up"])
    album = [NOW - timedelta(days=3)]
    with pytest.raises(Invalid) as refused:
        log(world, "key-album", jpeg(picture(21)), taken=album)
    assert "taken on the spot" in refused.value.fields["photos"]
    with pytest.raises(Invalid):
        log(world, "key-no-photo")
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    # One photo taken there is enough beside an album one.
    visit = log(
        world,
        "key-spot",
        jpeg(picture(22)),
        jpeg(picture(23)),
        taken=[*album, NOW - timedelta(minutes=1)],
    )
    assert [photo.time_flag for photo in visit.photos] == ["early", None]


def test_more_capture_times_than_photos_are_refused_by_their_field(world):  # noqa: F811
    with pytest.raises(Invalid) as refused:
        log(world, "key-extra", jpeg(picture(31)), taken=[NOW, NOW])
    assert set(refused.value.fields) == {"photo_taken_at"}
