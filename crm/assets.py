"""The app's own files under content-hashed URLs, kept a year; compressed answers (issue 26).

`url_for('static', filename='css/app.css')` gives `/static/<hash>/css/app.css`: the hash is
of the file's bytes, so a changed file gets a new URL and a browser may keep each URL for a
year without asking again. The plain `/static/css/app.css` still answers, with a short cache.

The hash sits in the path, not in a query, because the app's scripts are modules that import
each other by relative name (`./outbox.js`): a module imported from `/static/<hash>/js/` is
fetched from the same hashed folder. For that, every module under js/ shares one hash (of all
of them): a changed module changes the URL of every module that could import it.

The service worker precaches the same hashed URLs (`service_worker_prelude`), so a page and
its worker agree on the names, and a new set of files makes a new worker with new caches.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, abort, current_app, request
from flask_compress import Compress
from werkzeug.security import safe_join

HASH_LENGTH = 10
HASHED = re.compile(rf"[0-9a-f]{{{HASH_LENGTH}}}")
# The page modules and what they import share one hash (of them all), so that an import by a
# relative path ("./outbox.js", "../vendor/exifr/mini.esm.js") lands under the same hash, as
# the service worker keeps it.
MODULES = ("js/", "vendor/exifr/")
YEAR = "public, max-age=31536000, immutable"
# The plain name of a file may change at any deploy: a browser asks again after ten minutes.
SHORT = "public, max-age=600"
# What the service worker keeps for the phone offline: the stylesheet, htmx and every module
# (a module missing offline leaves its page without its script). The worker itself is not.
PRECACHE = ("css/*.css", "img/*.svg", "vendor/htmx/*.js", "vendor/exifr/*.js", "js/*.js")
NOT_PRECACHED = frozenset({"js/sw.js"})
# The blueprints whose templates carry hx- attributes (tests/web/test_assets.py keeps this
# true): htmx (16 KB compressed) is loaded there only, not on the rep's or the portal's pages.
HTMX_BLUEPRINTS = frozenset({"pipeline", "admin", "search"})

compress = Compress()


@dataclass(frozen=True)
class StaticFile:
    """One file of the static folder as it is served: its bytes, type and content hash."""

    data: bytes
    mimetype: str
    digest: str


class Assets:
    """The static folder read once: each file's bytes and hashed name (again on each request
    in debug, where a developer edits files while the server runs)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.files: dict[str, StaticFile] = {}
        self.load()

    def load(self) -> None:
        paths = sorted(path for path in self.folder.rglob("*") if path.is_file())
        found = {path.relative_to(self.folder).as_posix(): path.read_bytes() for path in paths}
        modules = hashlib.sha256()
        for name, data in found.items():
            if name.startswith(MODULES):
                modules.update(name.encode() + b"\0" + data)
        files = {}
        for name, data in found.items():
            digest = (modules if name.startswith(MODULES) else hashlib.sha256(data)).hexdigest()
            mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if mimetype == "application/javascript":
                mimetype = "text/javascript"  # RFC 9239
            files[name] = StaticFile(data, mimetype, digest[:HASH_LENGTH])
        self.files = files

    def hashed(self, filename: str) -> str:
        found = self.files.get(filename)
        return f"{found.digest}/{filename}" if found else filename

    def precache(self) -> list[str]:
        names = {
            name
            for pattern in PRECACHE
            for name in (
                path.relative_to(self.folder).as_posix() for path in self.folder.glob(pattern)
            )
            if name not in NOT_PRECACHED
        }
        return [f"/static/{self.hashed(name)}" for name in sorted(names)]

    def version(self) -> str:
        """One hash of every precached file: a new one makes a new service worker."""
        return hashlib.sha256("".join(self.precache()).encode()).hexdigest()[:HASH_LENGTH]


def assets() -> Assets:
    found: Assets = current_app.extensions["crm_assets"]
    if current_app.debug:
        found.load()
    return found


def hash_static_urls(endpoint: str, values: dict) -> None:
    """url_defaults: the static endpoint's filename gets its hash in front."""
    if endpoint == "static" and "filename" in values:
        values["filename"] = assets().hashed(values["filename"])


def serve_static(filename: str) -> Response:
    """The static endpoint: a hashed name is kept a year, a plain one ten minutes.

    A hash that is not the file's own (a page cached before a deploy asks for the old one)
    gets today's file with the short cache, never the year's: the old URL must not keep it.
    """
    head, _, rest = filename.partition("/")
    hashed = bool(rest) and HASHED.fullmatch(head) is not None
    name = rest if hashed else filename
    if safe_join(".", name) is None:
        abort(404)
    found = assets().files.get(name)
    if found is None:
        abort(404)
    response = Response(found.data, mimetype=found.mimetype)
    response.set_etag(found.digest)
    lasting = hashed and head == found.digest
    response.headers["Cache-Control"] = YEAR if lasting else SHORT
    return response.make_conditional(request)


def uses_htmx() -> bool:
    return request.blueprint in HTMX_BLUEPRINTS


def service_worker_prelude() -> str:
    """What the service worker is told before its own script: the URLs to precache and the
    version that names its caches."""
    found = assets()
    return (
        f"self.CRM_PRECACHE = {json.dumps(found.precache())};\n"
        f'self.CRM_ASSETS_VERSION = "{found.version()}";\n'
    )


def init_app(app: Flask) -> None:
    # Compressed answers: brotli, else gzip, for text only (photos and voice notes are
    # compressed already; mimetypes outside COMPRESS_MIMETYPES pass untouched).
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    compress.init_app(app)
    app.extensions["crm_assets"] = Assets(app.static_folder)
    app.url_defaults(hash_static_urls)
    app.view_functions["static"] = serve_static
    app.jinja_env.globals["uses_htmx"] = uses_htmx
