"""Security headers on every answer; error pages in the layout; JSON errors in one shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import abort

from crm import create_app, scope
from crm.services import storage
from crm.services.accounts import auth
from crm.services.field import photos
from crm.services.storage.local import LocalStore
from tests import builders
from tests.web.helpers import csrf_token, sign_in

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; worker-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def assert_security_headers(response):
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Permissions-Policy"] == (
        "geolocation=(self), camera=(self), microphone=(self)"
    )


@pytest.mark.parametrize(
    "path", ["/login", "/healthz", "/static/css/app.css", "/favicon.ico", "/nowhere", "/today"]
)
def test_every_kind_of_answer_carries_the_security_headers(client, path):
    assert_security_headers(client.get(path))


def test_the_pages_have_no_inline_script_or_style(client):
    page = client.get("/login").get_data(as_text=True)
    assert "<style" not in page and " style=" not in page
    assert "<script>" not in page and "onclick" not in page
    assert page.count('<link rel="stylesheet"') == 1


def test_not_found_page_matches_the_layout_and_says_what_to_do(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "Page not found" in body and 'class="topbar"' in body


def test_staff_page_refused_to_another_role_gets_a_403_page(client, db_session):
    rep = builders.user("rep", team_=builders.team())
    db_session.commit()
    sign_in(client, rep.email)
    response = client.get("/admin/")
    assert response.status_code == 403
    assert_security_headers(response)
    assert "You may not do this" in response.get_data(as_text=True)


def test_api_errors_are_json_in_the_one_shape(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.is_json
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["code"] == "not_found"
    assert_security_headers(response)


def test_wrong_method_is_a_405_not_a_500(client):
    response = client.put("/login")
    assert response.status_code == 405


def test_an_unexpected_failure_is_a_500_page_without_a_traceback(app, client, monkeypatch):
    from crm.views import health

    def broken():
        raise RuntimeError("database exploded")

    monkeypatch.setattr(health.health, "readiness_problem", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    try:
        response = client.get("/readyz")
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "database exploded" not in body
    assert_security_headers(response)


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ok"}


# --- forced errors under the development and production settings -------------------------------


STORE_SETTINGS = ("CRM_STORAGE_URL", "CRM_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID")
STORE_SETTINGS += ("AWS_SECRET_ACCESS_KEY", "AWS_REGION")


@pytest.fixture(params=["development", "production"])
def settings_app(request, app, database_url, monkeypatch):
    """A fresh app under the named settings, with routes that fail on purpose."""
    monkeypatch.setenv("CRM_SECRET_KEY", "a-production-secret-that-is-long-enough-0123456789")
    fresh = create_app(
        request.param,
        SQLALCHEMY_DATABASE_URI=database_url,
        CRM_STORAGE_ROOT=app.config["CRM_STORAGE_ROOT"],
        **{name: app.config[name] for name in STORE_SETTINGS},
        # The limiter is one object for every app: keep it on the test app's storage.
        RATELIMIT_STORAGE_URI=app.config["RATELIMIT_STORAGE_URI"],
        RATELIMIT_KEY_PREFIX=app.config["RATELIMIT_KEY_PREFIX"],
        MAX_CONTENT_LENGTH=1024,
    )

    @scope.allow("public")
    def forced(status: int):
        if status == 500:
            raise RuntimeError("forced failure")
        abort(status)

    fresh.add_url_rule("/forced/<int:status>", "forced", forced)
    return fresh


def forced_answers(client) -> dict[int, object]:
    token = csrf_token(client, "/login")
    too_large = client.post("/login", data={"csrf_token": token, "login": "x" * 4000})
    return {
        413: too_large,
        429: client.get("/forced/429"),
        500: client.get("/forced/500"),
        404: client.get("/forced/404"),
    }


def test_forced_errors_carry_the_security_headers_under_each_setting(settings_app):
    client = settings_app.test_client()
    production = settings_app.config["ENV_NAME"] == "production"
    for status, response in forced_answers(client).items():
        assert response.status_code == status
        assert_security_headers(response)
        body = response.get_data(as_text=True)
        assert "Traceback" not in body and "forced failure" not in body
        hsts = response.headers.get("Strict-Transport-Security")
        assert (hsts == "max-age=63072000; includeSubDomains") if production else hsts is None


def test_api_errors_under_each_setting_are_json_with_the_headers(settings_app):
    response = settings_app.test_client().get("/api/v1/session")
    assert response.status_code == 401 and response.is_json
    assert_security_headers(response)
    production = settings_app.config["ENV_NAME"] == "production"
    assert ("Strict-Transport-Security" in response.headers) is production


def test_cookies_are_secure_under_production_settings_only(settings_app):
    response = settings_app.test_client().get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "session=" in cookie and "HttpOnly" in cookie
    production = settings_app.config["ENV_NAME"] == "production"
    assert ("Secure" in cookie) is production
    assert settings_app.config.get("REMEMBER_COOKIE_SECURE", False) is production


# --- stored files --------------------------------------------------------------------------


@pytest.fixture
def stored_photo(app, db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep)
    visit = builders.visit(factory, rep)
    photo = builders.visit_photo(visit)
    db_session.commit()
    return rep, visit, photo


def test_a_served_photo_has_its_type_nosniff_and_a_disposition(app, stored_photo):
    rep, visit, photo = stored_photo
    auth.start_session(rep, "test", "127.0.0.1")
    client = app.test_client(user=rep)
    response = client.get(f"/visits/{visit.id}/photos/{photo.id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == (
        f"inline; filename=visit-{visit.id}-photo-{photo.id}.jpg"
    )
    assert response.data[:3] == b"\xff\xd8\xff"
    assert_security_headers(response)


def test_stored_files_live_outside_the_static_folder_and_static_does_not_serve_them(
    app, client, stored_photo
):
    _rep, _visit, photo = stored_photo
    root = Path(app.config["CRM_STORAGE_ROOT"]).resolve()
    static = Path(app.static_folder).resolve()
    assert not root.is_relative_to(static) and not static.is_relative_to(root)
    key = photos.key_of(photo.stored_name)
    with app.test_request_context():
        kept = storage.store()
        assert kept.exists(key)
    if isinstance(kept, LocalStore):
        assert kept.path(key).resolve().is_relative_to(root)
    # Random, in the folder of its day, never the upload's name.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/[0-9a-f]{32}", photo.stored_name)
    relative = f"{photo.stored_name}.jpg"
    names = (key.rsplit("/", 1)[-1], relative, f"photos/{relative}")
    for name in (*names, f"../storage/photos/{relative}"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 404, name
        assert_security_headers(response)


def test_the_headers_of_a_signed_in_answer_read_nothing_of_its_user(app, db_session):
    """The fault test saw a 500: a visit committed (its user's columns expired), the database
    went away, and the security headers read the user's `active` again. They only ask whether
    the request's user is anonymous now."""
    from flask import Response, g
    from sqlalchemy.orm.exc import DetachedInstanceError

    from crm.views import security

    user = builders.user("rep", team_=builders.team())
    db_session.commit()
    db_session.expire(user)
    db_session.expunge(user)  # any column read now raises, as a database gone away would
    with app.test_request_context("/today"):
        g._login_user = user
        with pytest.raises(DetachedInstanceError):
            _ = user.active
        answer = security.add_headers(Response("a page"))
    assert answer.headers["Cache-Control"] == "no-store"
