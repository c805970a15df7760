"""Visit photos: checked to be real images, re-encoded without metadata, stored at random names."""

from __future__ import annotations

import hashlib
import io
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from crm.errors import Invalid

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTOS_MAX = 6
LONG_SIDE = 1600
THUMB_SIDE = 320
# Pillow refuses images above this many pixels (a decompression bomb), well above any camera's.
Image.MAX_IMAGE_PIXELS = 80_000_000
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF", "MPO"})
# Stored names are "<day>/<random>"; names from before the day folders have no day.
DAY_FORMAT = "%Y-%m-%d"


@dataclass
class Upload:
    """A photo as it arrived: its bytes and the hash that the visit's fingerprint includes."""

    data: bytes
    sha256: str


@dataclass
class StoredPhoto:
    stored_name: str
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int


def read_uploads(files: list) -> list[Upload]:
    """The uploaded files of a form, size-checked; empty file inputs are ignored."""
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
            raise Invalid(message, fields={"photos": message})
        uploads.append(Upload(data=data, sha256=hashlib.sha256(data).hexdigest()))
    if len(uploads) > PHOTOS_MAX:
        message = _("Add at most %(count)d photos to a visit.", count=PHOTOS_MAX)
        raise Invalid(message, fields={"photos": message})
    return uploads


def check(upload: Upload) -> Image.Image:
    """Open an upload as an image, or refuse it by the photos field."""
    try:
        image = Image.open(io.BytesIO(upload.data))
        image.verify()  # checks the file's structure; the image must be opened again to use
        image = Image.open(io.BytesIO(upload.data))
        if image.format not in ACCEPTED_FORMATS:
            raise UnidentifiedImageError(image.format)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        message = _("A photo must be a JPEG, PNG or WebP image; one file is not.")
        raise Invalid(message, fields={"photos": message}) from None
    return image


def folder(kind: str = "photos") -> Path:
    """A folder of uploads under the storage root (photos, and voice notes beside them)."""
    path = Path(current_app.config["CRM_STORAGE_ROOT"]) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_name(kind: str = "photos") -> str:
    """A random stored name in a folder of the day it is written (UTC), made ready.

    The day's folder keeps any one folder to a day's uploads, and lets the sweep of files
    that no row names (crm.services.install.stored_files) read only the last week's folders.
    """
    day = datetime.now(UTC).strftime(DAY_FORMAT)
    (folder(kind) / day).mkdir(exist_ok=True)
    return f"{day}/{secrets.token_hex(16)}"


def prepare(upload: Upload) -> Image.Image:
    """The upload checked, turned upright (EXIF into pixels), in RGB, at most 1600 px long.

    A caller that checks every photo before storing any keeps these, so each photo is decoded
    once (a visit submit's time is mostly photos) and what it holds is at most 1600 px a photo,
    whatever size the files came in.
    """
    image = check(upload)
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE))
    return image


def store(upload: Upload, prepared: Image.Image | None = None) -> StoredPhoto:
    """Re-encode as JPEG (long side at most 1600 px, EXIF turned into pixels, metadata dropped).

    `prepared` is what prepare() made of this upload, when the caller has it already.
    """
    image = prepared if prepared is not None else prepare(upload)
    name = new_name()
    buffer = io.BytesIO()
    # No exif= argument: nothing is carried. No optimize=True either: its second pass more than
    # doubled the encoding time of a phone's 1600 px photo for a file a few percent smaller.
    image.save(buffer, "JPEG", quality=85)
    path_of(name).write_bytes(buffer.getvalue())
    # Averaging whole blocks of pixels (reduce) is five times faster than copying the photo
    # and resampling it, and as good at this size.
    thumb = image.reduce(max(1, math.ceil(max(image.size) / THUMB_SIDE)))
    thumb.save(path_of(name, thumbnail=True), "JPEG", quality=80)
    return StoredPhoto(
        stored_name=name,
        content_type="image/jpeg",
        size_bytes=buffer.tell(),
        sha256=upload.sha256,
        width=image.width,
        height=image.height,
    )


def path_of(stored_name: str, thumbnail: bool = False) -> Path:
    return folder() / f"{stored_name}{'-thumb' if thumbnail else ''}.jpg"


def remove(stored_names: list[str]) -> None:
    """Delete the files of photos whose visit was not saved after all."""
    for name in stored_names:
        for thumbnail in (False, True):
            path_of(name, thumbnail).unlink(missing_ok=True)
