"""Visit photos: checked to be real images, re-encoded without metadata, stored at random names."""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import imagehash
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from crm import clock
from crm.errors import Invalid, StorageUnavailable
from crm.services import storage

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTOS_MAX = 6
LONG_SIDE = 1600
THUMB_SIDE = 320
# The most pixels a photo may declare: a phone's photo has 12 to 24 million (its 48-million
# mode is what the visit page shrinks before sending). Checked on the header, before decoding:
# a 17 KB one-bit PNG can declare 12000×12000, which decodes to hundreds of megabytes.
PHOTO_MAX_PIXELS = 40_000_000
# Pillow's own bomb check is a backstop far behind the budget, which answers first and names
# the size; Pillow's error (above twice this) is refused too, by the field, without the size.
Image.MAX_IMAGE_PIXELS = 4 * PHOTO_MAX_PIXELS
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF", "MPO"})
# Stored names are "<day>/<random>"; names from before the day folders have no day.
DAY_FORMAT = "%Y-%m-%d"
FOLDER = "photos"


@dataclass
class Upload:
    """A photo as it arrived: its bytes, the hash that the visit's fingerprint includes, and
    the form field it came by (where a refusal of it is shown)."""

    data: bytes
    sha256: str
    field: str = "photos"


@dataclass
class StoredPhoto:
    stored_name: str
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    phash: str = ""  # the perceptual hash, 16 hex digits (crm.services.trust.photo_flags)


# EXIF's sub-directory of a photo's own details, and in it when it was taken (wall clock) and the
# UTC offset of that clock (newer cameras and phones write it).
EXIF_IFD, DATE_TIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x8769, 0x9003, 0x9011


def capture_time(data: bytes) -> datetime | None:
    """When the photo was taken, by its EXIF (an original from a camera or an API client; the
    phone shrinks its photos and sends the time it read from them instead): none when the file
    holds no readable capture time. A clock without an offset is the install's."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            details = image.getexif().get_ifd(EXIF_IFD)
    except Exception:  # a photo whose details cannot be read has no capture time
        return None
    written = details.get(DATE_TIME_ORIGINAL)
    if not isinstance(written, str):
        return None
    try:
        taken = datetime.strptime(written.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = details.get(OFFSET_TIME_ORIGINAL)
    try:
        if isinstance(offset, str) and offset.strip("\x00 "):
            zoned = datetime.fromisoformat(taken.isoformat() + offset.strip("\x00 "))
            return zoned.astimezone(UTC)
    except ValueError:
        pass
    return taken.replace(tzinfo=clock.zone()).astimezone(UTC)


def read_uploads(files: list, field: str = "photos") -> list[Upload]:
    """The uploaded files of a form's `field`, size-checked; empty file inputs are ignored."""
    uploads = []
    for file in files:
        data = file.read(PHOTO_MAX_BYTES + 1)
        if not data:
            continue
        if len(data) > PHOTO_MAX_BYTES:
            message = _(
                "Each photo may be at most %(size)d MB; this one is larger.",
                size=PHOTO_MAX_BYTES // (1024 * 1024),
            )
            raise Invalid(message, fields={field: message})
        uploads.append(Upload(data=data, sha256=hashlib.sha256(data).hexdigest(), field=field))
    if len(uploads) > PHOTOS_MAX:
        message = _("Add at most %(count)d photos to a visit.", count=PHOTOS_MAX)
        raise Invalid(message, fields={field: message})
    return uploads


# What Pillow raises for a file that is not the image it claims to be (SyntaxError included:
# its parsers use it for a malformed header or EXIF block).
_BROKEN = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


def check(upload: Upload) -> Image.Image:
    """Open an upload as an image within the pixel budget, or refuse it by its field.

    The size is read from the header (Image.open decodes no pixels) and checked before anything
    is decoded; a JPEG is then decoded at a reduced scale (see _draft_box).
    """
    try:
        image = Image.open(io.BytesIO(upload.data))
    except Image.DecompressionBombError:
        raise _refused(upload, too_large_message(None)) from None
    except _BROKEN:
        raise _refused(upload, not_an_image_message()) from None
    if image.width * image.height > PHOTO_MAX_PIXELS:
        raise _refused(upload, too_large_message(image.size))
    try:
        image.verify()  # checks the file's structure; the image must be opened again to use
        image = Image.open(io.BytesIO(upload.data))
        if image.format not in ACCEPTED_FORMATS:
            raise UnidentifiedImageError(image.format)
        image.draft(None, _draft_box(image.size))
        image.load()
    except _BROKEN:
        raise _refused(upload, not_an_image_message()) from None
    return image


def not_an_image_message() -> str:
    return _("A photo must be a JPEG, PNG or WebP image; one file is not.")


def too_large_message(size: tuple[int, int] | None) -> str:
    """What to do about a photo above the pixel budget (its size when the header gave it)."""
    most = PHOTO_MAX_PIXELS // 1_000_000
    if size is None:
        return _(
            "A photo is larger than %(most)d megapixels; send one of at most %(most)d megapixels.",
            most=most,
        )
    return _(
        "The photo is %(width)d×%(height)d pixels; send one of at most %(most)d megapixels.",
        width=size[0],
        height=size[1],
        most=most,
    )


def _refused(upload: Upload, message: str) -> Invalid:
    return Invalid(message, fields={upload.field: message})


def _draft_box(size: tuple[int, int]) -> tuple[int, int]:
    """The box a JPEG may be decoded down to (by 1/2, 1/4 or 1/8): twice LONG_SIDE, so that the
    resampling after it looks as it would from the full size (Pillow's thumbnail does the same)."""
    scale = 2 * LONG_SIDE / max(size)
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def new_name() -> str:
    """A random stored name in a folder of the day it is written (UTC).

    The day's folder keeps any one folder to a day's uploads, and lets the sweep of files
    that no row names (crm.services.install.stored_files) read only the last week's folders.
    """
    return f"{datetime.now(UTC).strftime(DAY_FORMAT)}/{secrets.token_hex(16)}"


def key_of(stored_name: str, thumbnail: bool = False) -> str:
    """The photo's key in the store (crm.services.storage): photos/<day>/<random>[-thumb].jpg."""
    return f"{FOLDER}/{stored_name}{'-thumb' if thumbnail else ''}.jpg"


def prepare(upload: Upload) -> Image.Image:
    """The upload checked, turned upright (EXIF into pixels), in RGB, at most 1600 px long.

    A caller that checks every photo before storing any keeps these, so each photo is decoded
    once (a visit submit's time is mostly photos) and what it holds is at most 1600 px a photo,
    whatever size the files came in.
    """
    image = check(upload)
    try:
        # Turning upright reads the EXIF block, and writes it back without the orientation:
        # a damaged block (a PNG's or WebP's) or a NaN in it (a JPEG's) fails here, not above.
        ImageOps.exif_transpose(image, in_place=True)
    except _BROKEN:
        message = _(
            "A photo's details (EXIF) are damaged, so it cannot be turned upright. "
            "Take it again, or send a screenshot of it."
        )
        raise _refused(upload, message) from None
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE))
    return image


def store(
    upload: Upload,
    prepared: Image.Image | None = None,
    stamp: Callable[[Image.Image], None] | None = None,
) -> StoredPhoto:
    """Re-encode as JPEG (long side at most 1600 px, EXIF turned into pixels, metadata dropped).

    `prepared` is what prepare() made of this upload, when the caller has it already; `stamp`
    draws on the stored photo (a visit's watermark), after the thumbnail and its perceptual
    hash are taken from the picture as it came.
    """
    image = prepared if prepared is not None else prepare(upload)
    name = new_name()
    # Averaging whole blocks of pixels (reduce) is five times faster than copying the photo
    # and resampling it, and as good at this size.
    thumb = image.reduce(max(1, math.ceil(max(image.size) / THUMB_SIDE)))
    if stamp is not None:
        stamp(image)
    buffer = io.BytesIO()
    # No exif= argument: nothing is carried. No optimize=True either: its second pass more than
    # doubled the encoding time of a phone's 1600 px photo for a file a few percent smaller.
    image.save(buffer, "JPEG", quality=85)
    small = io.BytesIO()
    thumb.save(small, "JPEG", quality=80)
    kept = storage.store()
    kept.write(key_of(name), buffer.getvalue(), "image/jpeg")
    try:
        kept.write(key_of(name, thumbnail=True), small.getvalue(), "image/jpeg")
    except StorageUnavailable:
        remove([name])
        raise
    return StoredPhoto(
        stored_name=name,
        content_type="image/jpeg",
        size_bytes=buffer.tell(),
        sha256=upload.sha256,
        width=image.width,
        height=image.height,
        # From the thumbnail: the hash reads a 32 px picture, and the thumbnail is that picture
        # reduced already (hashing the whole photo cost a visit submit several times more).
        phash=str(imagehash.phash(thumb)),
    )


def delete(stored_names: list[str]) -> None:
    """Delete photos and their thumbnails (retention); a store that is down raises."""
    kept = storage.store()
    for name in stored_names:
        for thumbnail in (False, True):
            kept.delete(key_of(name, thumbnail))


def remove(stored_names: list[str]) -> None:
    """Delete the files of photos whose visit was not saved after all, if the store answers:
    what stays is deleted by the daily sweep of files that no row names."""
    with contextlib.suppress(StorageUnavailable):
        delete(stored_names)
