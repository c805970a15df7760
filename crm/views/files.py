"""Stored photos and voice notes, answered through routes that checked scope first (never the
static folder, never a bucket's URL): streamed from the store, whichever back end keeps them."""

from __future__ import annotations

from flask import Response, abort, request, send_file
from werkzeug.exceptions import HTTPException

from crm.errors import NotFound
from crm.services import storage
from crm.services.field import photos, voice_notes


def photo_response(stored_name: str | None, download_name: str, thumbnail: bool = False):
    """A stored JPEG, inline, kept privately by the browser; 404 when the file is gone."""
    if not stored_name:
        abort(404)
    return _stored_file(photos.key_of(stored_name, thumbnail), "image/jpeg", download_name)


def voice_note_response(note, download_name: str):
    """A stored voice note with the type its container was checked to be, inline, kept privately.

    Ranges are answered: a browser's <audio> asks for them to seek.
    """
    key = voice_notes.key_of(note.stored_name, note.content_type)
    extension = key.rsplit(".", 1)[-1]
    return _stored_file(key, note.content_type, f"{download_name}.{extension}")


def stream(
    key: str, mimetype: str, download_name: str, conditional: bool = True, **options
) -> Response:
    """A kept file streamed with its length, Last-Modified and ETag, answering conditional and
    range requests (send_file's answer for a path, for either back end); NotFound: a 404."""
    try:
        opened = storage.store().open(key)
    except NotFound:
        abort(404)
    response = send_file(
        opened.stream,
        mimetype=mimetype,
        download_name=download_name,
        etag=opened.etag,
        last_modified=opened.modified,
        conditional=False,
        **options,
    )
    response.content_length = opened.size
    if not conditional:
        return response
    try:
        return response.make_conditional(request, accept_ranges=True, complete_length=opened.size)
    except HTTPException:  # a range beyond the end (416)
        opened.stream.close()
        raise


def _stored_file(key: str, mimetype: str, download_name: str) -> Response:
    response = stream(key, mimetype, download_name, max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
