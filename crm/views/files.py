"""Stored photos answered through routes that checked scope first (never the static folder)."""

from __future__ import annotations

from flask import abort, send_file

from crm.services import photos


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
