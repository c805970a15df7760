"""The stamp on a stored visit photo (issue 22, point 1): the stored image differs from the
upload in its stamped bottom corner only, carries no EXIF, and the stamp's words are the rep's
language, with the install's clock, the factory's name, the distance and the rep."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image, ImageChops

from crm.models import Visit
from crm.services import storage
from crm.services.field import photos, visits
from crm.services.trust import watermark
from tests.unit.test_photo_flags import exif_jpeg
from tests.unit.test_visits import NOW, sent, upload, world  # noqa: F401  (the fixture)

GREY = (128, 128, 128)


def logged(world, data: bytes) -> Visit:  # noqa: F811
    taken = NOW - timedelta(minutes=1)
    submission = sent("key-stamp", photos=[upload(data)], photo_taken_at=[taken])
    return visits.log_visit(world["rep"], world["factory"], submission, NOW).visit


def test_the_stored_photo_is_stamped_in_its_bottom_corner_and_has_no_exif(world):  # noqa: F811
    original = Image.new("RGB", (1600, 1200), GREY)
    visit = logged(world, exif_jpeg(original, "2026:11:25 09:59:00", "+08:00"))
    (photo,) = visit.photos
    with Image.open(io.BytesIO(storage.store().read(photos.key_of(photo.stored_name)))) as stored:
        assert not stored.getexif()  # nothing of the camera's details is kept
        stored = stored.convert("RGB")
        difference = ImageChops.difference(stored, original).convert("L")
    # The band with its text sits in the bottom left corner; the rest is the photo (JPEG noise
    # aside).
    width, height = original.size
    corner = difference.crop((0, height - 80, 300, height))
    rest = difference.crop((0, 0, width, height // 2))
    assert corner.getextrema()[1] > 100
    assert rest.getextrema()[1] < 16
    # The thumbnail and its perceptual hash come from the photo as it was taken: a stamp of
    # another time or place does not make a reused photo look new.
    with Image.open(
        io.BytesIO(storage.store().read(photos.key_of(photo.stored_name, thumbnail=True)))
    ) as thumb:
        assert (
            ImageChops.difference(thumb.convert("RGB"), Image.new("RGB", thumb.size, GREY))
            .convert("L")
            .getextrema()[1]
            < 16
        )


def test_the_stamp_speaks_the_rep_s_language_on_the_install_s_clock(app):
    checked_in = NOW  # 10:00 in Shanghai
    english = watermark.lines(checked_in, "永康市恒达五金制品有限公司", 320.4, "Ann Lee", "en")
    assert english == [
        "Nov 25, 2026 10:00",
        "永康市恒达五金制品有限公司",
        "320 m from the factory · Ann Lee",
    ]
    chinese = watermark.lines(checked_in, "永康市恒达五金制品有限公司", 1520, "李安", "zh_Hans")
    assert chinese[0] == "2026年11月25日 10:00"
    assert chinese[2] == "距工厂 1.5 公里 · 李安"
    assert watermark.lines(checked_in, "F", None, "R", None)[2] == "No location · R"
    # A rep who chose no language gets the one their phone asks for.
    # A context of its own, as each request has: the language read in it goes with it (in the
    # test's long-lived one it would stay for the worker's later tests).
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert watermark.lines(checked_in, "F", None, "R", None)[2] == "无位置 · R"
    assert watermark.lines(checked_in, "F", None, "R", None)[2] == "No location · R"


def test_a_small_photo_is_stamped_within_its_edges():
    image = Image.new("RGB", (120, 90), GREY)
    watermark.stamp(image, ["2026-11-25 10:00", "永康市恒达五金制品有限公司", "320 m · Ann"])
    assert image.size == (120, 90)
    assert image.getpixel((2, 88)) != GREY and image.getpixel((119, 0)) == GREY
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
