"""Light pages and the home-screen app (issue 26): compressed answers, the app's files under
hashed names kept a year, htmx only where a page uses it, and the web app manifest."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import brotli
import pytest
from flask import Response
from PIL import Image

import crm
from crm import assets
from tests import builders
from tests.web.helpers import sign_in

TEMPLATES = Path(crm.__file__).resolve().parent / "templates"
STATIC_URL = re.compile(r'(?:href|src)="(/static/[^"]+)"')
BOTH = "gzip, deflate, br"


def static_urls(html: str) -> list[str]:
    return STATIC_URL.findall(html)


@pytest.mark.parametrize(("accepted", "encoding"), [(BOTH, "br"), ("gzip", "gzip"), ("", None)])
def test_pages_are_compressed_as_the_browser_accepts(client, accepted, encoding):
    plain = client.get("/login").get_data()
    response = client.get("/login", headers={"Accept-Encoding": accepted})
    assert response.headers.get("Content-Encoding") == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    if encoding == "br":
        body = brotli.decompress(body)
    elif encoding == "gzip":
        body = gzip.decompress(body)
    # The CSRF token (in the meta tag and the form) carries the second it was signed, so two
    # answers may differ there; everything else is the same page.
    token = re.compile(
        rb'content="[^"]+" name="csrf|name="csrf-token" content="[^"]+"'
        rb'|name="csrf_token" (?:type="hidden" )?value="[^"]+"'
    )
    assert token.sub(b"", body) == token.sub(b"", plain)
    if encoding:
        assert len(response.get_data()) < len(plain) / 2


@pytest.mark.parametrize("mimetype", ["image/jpeg", "image/webp", "audio/webm", "audio/mp4"])
def test_photos_and_voice_notes_are_never_compressed_again(app, mimetype):
    with app.test_request_context(headers={"Accept-Encoding": BOTH}):
        response = assets.compress.after_request(Response(b"a" * 20_000, mimetype=mimetype))
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == b"a" * 20_000


def test_a_static_file_under_its_hash_is_kept_a_year_and_compressed(client):
    urls = static_urls(client.get("/login").get_data(as_text=True))
    assert any(url.endswith("/css/app.css") for url in urls)
    for url in urls:
        assert re.fullmatch(r"/static/[0-9a-f]{10}/[\w/.-]+", url), url
        response = client.get(url, headers={"Accept-Encoding": BOTH})
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Encoding"] == "br"
        etag = response.headers["ETag"]
        assert etag.endswith(':br"')  # one validator per encoding
        again = client.get(url, headers={"Accept-Encoding": BOTH, "If-None-Match": etag})
        assert again.status_code == 304


def test_the_hash_is_the_files_content(app, client):
    static = Path(app.static_folder)
    url = next(u for u in static_urls(client.get("/login").get_data(as_text=True)) if "css" in u)
    digest = url.split("/")[2]
    assert client.get(url).get_data() == (static / "css" / "app.css").read_bytes()
    import hashlib

    assert hashlib.sha256((static / "css" / "app.css").read_bytes()).hexdigest()[:10] == digest


@pytest.mark.parametrize("path", ["/static/css/app.css", "/static/0123456789/css/app.css"])
def test_a_plain_or_stale_name_still_answers_with_a_short_cache(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=600"
    assert b"--accent" in response.get_data()


@pytest.mark.parametrize(
    "path", ["/static/nowhere.css", "/static/0123456789/nowhere.css", "/static/0123456789/"]
)
def test_a_missing_static_file_is_404(client, path):
    assert client.get(path).status_code == 404


def test_the_modules_share_one_hash_so_relative_imports_stay_in_one_folder(client):
    worker = client.get("/sw.js").get_data(as_text=True)
    folders = set(re.findall(r'"/static/([0-9a-f]{10})/js/[\w-]+\.js"', worker))
    assert len(folders) == 1


def test_the_service_worker_precaches_the_pages_own_hashed_urls(client):
    worker = client.get("/sw.js")
    assert worker.headers["Cache-Control"] == "no-cache"
    text = worker.get_data(as_text=True)
    precached = json.loads(re.search(r"self\.CRM_PRECACHE = (\[.*?\]);", text).group(1))
    for url in static_urls(client.get("/login").get_data(as_text=True)):
        assert url in precached, url
    for url in precached:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "immutable" in response.headers["Cache-Control"]
    assert re.search(r'self\.CRM_ASSETS_VERSION = "[0-9a-f]{10}";', text)


# --- htmx only where a page uses it -----------------------------------------------------------


def test_only_the_htmx_blueprints_templates_use_htmx():
    using = {
        path.relative_to(TEMPLATES).parts[0]
        for path in TEMPLATES.rglob("*.html")
        if re.search(r"\shx-[a-z]", path.read_text(encoding="utf-8"))
    }
    assert using <= assets.HTMX_BLUEPRINTS


def test_the_reps_pages_load_no_htmx_and_the_managers_board_does(app, db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", team_=team)
    db_session.commit()
    rep_client, manager_client = app.test_client(), app.test_client()
    sign_in(rep_client, rep.email)
    sign_in(manager_client, manager.email)
    for path in ("/today", "/factories/", "/visit"):
        assert "htmx.min.js" not in rep_client.get(path).get_data(as_text=True), path
    assert "htmx.min.js" in manager_client.get("/pipeline/board").get_data(as_text=True)


# --- the web app manifest ------------------------------------------------------------------


def test_every_page_links_the_manifest(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert '<meta name="theme-color" content="#1e3a8a">' in html


@pytest.mark.parametrize(("language", "name"), [("en", "Factory Growth CRM"), ("zh-CN", None)])
def test_the_manifest_names_the_app_and_its_icons(client, language, name):
    response = client.get("/manifest.webmanifest", headers={"Accept-Language": language})
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    assert "Accept-Language" in response.headers["Vary"]
    manifest = json.loads(response.get_data(as_text=True))
    if name:
        assert manifest["name"] == name
    assert manifest["short_name"]
    assert manifest["start_url"] == "/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#1e3a8a" and manifest["background_color"] == "#ffffff"
    found = set()
    for icon in manifest["icons"]:
        image = Image.open(io.BytesIO(client.get(icon["src"]).get_data()))
        assert image.format == "PNG" and icon["type"] == "image/png"
        assert icon["sizes"] == f"{image.width}x{image.height}"
        found.add((image.width, icon["purpose"]))
    assert found == {(192, "any"), (512, "any"), (192, "maskable"), (512, "maskable")}


def test_a_maskable_icon_fills_its_square_and_keeps_the_mark_in_the_safe_zone(client):
    manifest = json.loads(client.get("/manifest.webmanifest").get_data(as_text=True))
    src = next(i["src"] for i in manifest["icons"] if i["purpose"] == "maskable")
    image = Image.open(io.BytesIO(client.get(src).get_data())).convert("RGB")
    size = image.width
    corner = image.getpixel((0, 0))
    assert corner == (30, 58, 138)  # no transparent corner for the phone's mask to show
    # Everything that is not the background lies within the central circle of 80 %.
    for x in range(0, size, 4):
        for y in range(0, size, 4):
            if image.getpixel((x, y)) != corner:
                assert (x - size / 2) ** 2 + (y - size / 2) ** 2 <= (0.4 * size) ** 2


def test_start_url_lands_each_role_on_its_home(app, db_session):
    team = builders.team()
    users = {role: builders.user(role, team_=team) for role in ("rep", "manager", "admin")}
    db_session.commit()
    homes = {}
    for role, user in users.items():
        client = app.test_client()
        sign_in(client, user.email)
        homes[role] = client.get("/").headers["Location"]
    assert homes["rep"].endswith("/today")
    assert len(set(homes.values())) == 3
    assert app.test_client().get("/").headers["Location"].endswith("/login")
