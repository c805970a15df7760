"""Photos that do not prove a visit (issue 22, point 1): the same bytes as an earlier photo of
the install, or a re-saved, slightly cropped copy of another visit's photo, flag the photo and
put its visit in the manager's review; a photo of its own does not."""

from __future__ import annotations

import io
import random
from datetime import timedelta

import pytest
from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import select

from crm.extensions import db
from crm.models import Visit
from crm.services.field import visits
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


def log(world, key: str, *photos: bytes, minutes: int = 1) -> Visit:  # noqa: F811
    submission = sent(key, photos=[upload(data) for data in photos])
    submission.checked_in_at = NOW - timedelta(minutes=minutes)
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
