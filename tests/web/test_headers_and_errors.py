"""Security headers on every answer; error pages in the layout; JSON errors in one shape."""

from __future__ import annotations

import pytest

from tests import builders
from tests.web.helpers import sign_in

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
