"""Stored photos and voice notes, answered through routes that checked scope first (never the
static folder)."""

from __future__ import annotations

from flask import abort, send_file

from crm.services.field import photos, voice_notes


def photo_response(stored_name: str | None, download_name: str, thumbnail: bool = False):
    """A stored JPEG, inline, kept privately by the browser; 404 when the file is gone."""
    if not stored_name:
        abort(404)
    return _stored_file(photos.path_of(stored_name, thumbnail), "image/jpeg", download_name)


def voice_note_response(note, download_name: str):
    """A stored voice note with the type its container was checked to be, inline, kept privately.

    Ranges are answered (send_file is conditional): a browser's <audio> asks for them to seek.
    """
    path = voice_notes.path_of(note.stored_name, note.content_type)
    return _stored_file(path, note.content_type, f"{download_name}{path.suffix}")


def _stored_file(path, mimetype: str, download_name: str):
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=mimetype, download_name=download_name, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
