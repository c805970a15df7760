"""Stored photos and voice notes, answered through routes that checked scope first (never the
static folder)."""

from __future__ import annotations

from flask import abort, send_file

from crm.services import photos, voice_notes


def photo_response(stored_name: str | None, download_name: str, thumbnail: bool = False):
    """A stored JPEG, inline, kept privately by the browser; 404 when the file is gone."""
    if not stored_name:
        abort(404)
    path = photos.path_of(stored_name, thumbnail)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", download_name=download_name, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def voice_note_response(note, download_name: str):
    """A stored voice note with the type its container was checked to be, inline, kept privately.

    Ranges are answered (conditional=True): a browser's <audio> asks for them to seek.
    """
    path = voice_notes.path_of(note.stored_name, note.content_type)
    if not path.is_file():
        abort(404)
    extension = path.suffix
    response = send_file(
        path,
        mimetype=note.content_type,
        download_name=f"{download_name}{extension}",
        as_attachment=False,
        max_age=3600,
        conditional=True,
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
