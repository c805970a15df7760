"""A visit's voice note: checked to be real short audio (PyAV), stored at a random name.

BROWSER-NOTES.md "Voice": the recorders' files carry no length in a header, so the length
is read from the packets' timestamps. The container, not the name or the sent type, decides
what the file is and the type it is served with.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction

import av
from flask_babel import gettext as _

from crm.errors import Invalid, StorageUnavailable
from crm.services import storage
from crm.services.field import photos

VOICE_MAX_BYTES = 3 * 1024 * 1024
VOICE_MAX_MS = 2 * 60 * 1000
FIELD = "voice_note"
# PyAV's container name -> the type the file is served with, and the codecs a phone records.
CONTAINERS = {
    "matroska,webm": ("audio/webm", {"opus", "vorbis"}),
    "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", {"aac", "opus", "mp3"}),
    "ogg": ("audio/ogg", {"opus", "vorbis"}),
}
FOLDER = "voice"
EXTENSIONS = {"audio/webm": "webm", "audio/mp4": "m4a", "audio/ogg": "ogg"}


@dataclass
class Upload:
    """A voice note as it arrived: its bytes and the hash that the visit's fingerprint includes."""

    data: bytes
    sha256: str


@dataclass
class StoredVoiceNote:
    stored_name: str
    content_type: str
    size_bytes: int
    sha256: str
    duration_ms: int


def read_upload(file) -> Upload | None:
    """The form's voice note, size-checked; an empty file input is no voice note."""
    if file is None:
        return None
    data = file.read(VOICE_MAX_BYTES + 1)
    if not data:
        return None
    if len(data) > VOICE_MAX_BYTES:
        _refuse(
            _(
                "A voice note may be at most %(size)d MB; this one is larger. "
                "Record a shorter one.",
                size=VOICE_MAX_BYTES // (1024 * 1024),
            )
        )
    return Upload(data=data, sha256=hashlib.sha256(data).hexdigest())


def measure(upload: Upload) -> tuple[str, int]:
    """The note's content type and length in milliseconds, or a refusal by the field."""
    try:
        with av.open(io.BytesIO(upload.data), mode="r") as container:
            content_type, codecs = CONTAINERS.get(container.format.name, (None, set()))
            audio = container.streams.audio
            if content_type is None or not audio or container.streams.video:
                raise ValueError("not a recorded voice note")
            stream = audio[0]
            if stream.codec_context.name not in codecs:
                raise ValueError(stream.codec_context.name)
            duration = _length(container, stream)
    except (av.error.FFmpegError, ValueError, IndexError):
        _refuse(_("A voice note must be a WebM, MP4 or Ogg audio recording; this file is not."))
    if duration is None:
        _refuse(_("This voice note holds no sound. Record it again."))
    if duration > VOICE_MAX_MS:
        _refuse(_("A voice note may last at most 2 minutes; this one is longer."))
    return content_type, duration


def _length(container, stream) -> int | None:
    """From the first packet's start to the last one's end, in milliseconds."""
    first = last = None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue  # the flushing packet at the end
        first = packet.pts if first is None else min(first, packet.pts)
        end = packet.pts + (packet.duration or 0)
        last = end if last is None else max(last, end)
    if first is None or last is None:
        return None
    return round((last - first) * Fraction(stream.time_base) * 1000)


def store(upload: Upload, measured: tuple[str, int] | None = None) -> StoredVoiceNote:
    """Check the note and keep its bytes as sent (the recording is already compressed).

    `measured` is what measure() said of this upload, when the caller has checked it already.
    """
    content_type, duration_ms = measured if measured is not None else measure(upload)
    name = photos.new_name()
    storage.store().write(key_of(name, content_type), upload.data, content_type)
    return StoredVoiceNote(
        stored_name=name,
        content_type=content_type,
        size_bytes=len(upload.data),
        sha256=upload.sha256,
        duration_ms=duration_ms,
    )


def key_of(stored_name: str, content_type: str) -> str:
    """The note's key in the store: voice/<day>/<random>.<extension of its container>."""
    return f"{FOLDER}/{stored_name}.{EXTENSIONS.get(content_type, 'audio')}"


def delete(stored_name: str, content_type: str) -> None:
    """Delete a note's file (retention); a store that is down raises."""
    storage.store().delete(key_of(stored_name, content_type))


def remove(stored: StoredVoiceNote | None) -> None:
    """Delete the file of a note whose visit was not saved after all, if the store answers
    (what stays is deleted by the daily sweep of files that no row names)."""
    if stored is not None:
        with contextlib.suppress(StorageUnavailable):
            delete(stored.stored_name, stored.content_type)


def _refuse(message: str):
    raise Invalid(message, fields={FIELD: message})
