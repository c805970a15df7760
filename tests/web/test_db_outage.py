"""A database outage answers 503 with Retry-After (JSON under /api/, the error page otherwise),
never a 500, and the app serves again by itself once the database is back.

On SQLite the outage is real: the database file's folder is moved away and the pool emptied,
so every new connection fails to open; moving it back ends the outage. (On PostgreSQL the
load test restarts a cluster under gunicorn: tests/unit/test_load_and_fault.py.)
"""

from __future__ import annotations

import re
import shutil

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError

from crm import create_app, engine_options, scope
from crm.extensions import db
from crm.services.accounts import api_tokens
from crm.services.growth import catalogue
from tests import builders
from tests.conftest import IsolatedClient
from tests.web.helpers import sign_in


@pytest.fixture
def outage_app(tmp_path):
    folder = tmp_path / "db"
    folder.mkdir()
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'crm.sqlite3'}",
        CRM_STORAGE_ROOT=str(tmp_path / "storage"),
    )
    app.test_client_class = IsolatedClient
    failures = {"kind": None}

    # A route that fails with the database after the user was loaded (a query mid-view),
    # added before the app serves its first request.
    @app.route("/outage-probe")
    @scope.allow("signed_in")
    def probe():
        from flask_login import current_user

        assert current_user.is_authenticated
        raise failures["kind"]("SELECT 1", {}, Exception("server closed the connection"))

    @app.route("/outage-answered")
    @scope.allow("signed_in")
    def answered():
        return str(db.session.scalar(text("SELECT 1")))

    with app.app_context():
        upgrade()
        catalogue.install_defaults()
        team = builders.team()
        rep = builders.user("rep", team_=team)
        factory = builders.factory(builders.belt(team), owner=rep)
        secret = api_tokens.create(rep, "outage", None).secret
        db.session.commit()
        app.extensions["outage"] = {
            "rep": rep.email,
            "factory_id": factory.id,
            "secret": secret,
            "folder": folder,
            "failures": failures,
        }
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def _go_down(app) -> None:
    info = app.extensions["outage"]
    with app.app_context():
        db.engine.dispose()
    shutil.move(info["folder"], info["folder"].with_name("db-away"))


def _come_back(app) -> None:
    info = app.extensions["outage"]
    shutil.move(info["folder"].with_name("db-away"), info["folder"])


def _bearer(app) -> dict:
    return {"Authorization": f"Bearer {app.extensions['outage']['secret']}"}


def _visit(app, key: str) -> dict:
    return {
        "json": {
            "factory_id": app.extensions["outage"]["factory_id"],
            "purpose": "follow_up",
            "summary": "Logged across an outage",
            "next": "none",
        },
        "headers": {**_bearer(app), "Idempotency-Key": key},
    }


def _assert_unavailable_json(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"] == "5"
    error = response.get_json()["error"]
    assert error["code"] == "unavailable"
    assert error["message"] and error["fields"] == {}


def test_an_outage_answers_503_and_the_app_recovers_by_itself(outage_app):
    app = outage_app
    page_client = app.test_client()
    assert sign_in(page_client, app.extensions["outage"]["rep"]).status_code == 303
    api = app.test_client()
    assert page_client.get("/today").status_code == 200
    assert api.get("/api/v1/factories", headers=_bearer(app)).status_code == 200

    _go_down(app)
    try:
        # A signed-in page: the user cannot even be loaded. The error page, as signed out.
        page = page_client.get("/today")
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.mimetype == "text/html"
        body = page.get_data(as_text=True)
        assert "Temporarily unavailable" in body and "Nothing was changed" in body
        assert "Content-Security-Policy" in page.headers
        # The API: the bearer token cannot be checked; the JSON error shape.
        _assert_unavailable_json(api.get("/api/v1/factories", headers=_bearer(app)))
        _assert_unavailable_json(api.post("/api/v1/visits", **_visit(app, "outage-key-0001")))
        # htmx asks for a fragment: it gets the fragment.
        fragment = page_client.get("/today", headers={"HX-Request": "true"})
        assert fragment.status_code == 503 and "<html" not in fragment.get_data(as_text=True)
    finally:
        _come_back(app)

    # Back without a restart: the same clients, the same key, exactly one visit.
    assert page_client.get("/today").status_code == 200
    made = api.post("/api/v1/visits", **_visit(app, "outage-key-0001"))
    assert made.status_code == 201, made.get_data(as_text=True)
    again = api.post("/api/v1/visits", **_visit(app, "outage-key-0001"))
    assert again.status_code == 200
    assert again.get_json()["visit"]["id"] == made.get_json()["visit"]["id"]
    with app.app_context():
        count = db.session.scalar(
            text("SELECT count(*) FROM visits WHERE client_key = 'outage-key-0001'")
        )
        db.session.remove()
    assert count == 1


@pytest.mark.parametrize("kind", [OperationalError, InterfaceError, DisconnectionError])
def test_a_database_error_mid_view_is_a_503_page_not_a_500(outage_app, kind):
    """The user was loaded before the failure; the rollback expires them, so the error page
    must not touch them (or the inbox count) again."""
    app = outage_app
    app.extensions["outage"]["failures"]["kind"] = (
        kind if kind is not DisconnectionError else lambda *args: DisconnectionError("dropped")
    )
    client = app.test_client()
    assert sign_in(client, app.extensions["outage"]["rep"]).status_code == 303
    response = client.get("/outage-probe")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    assert "Temporarily unavailable" in body
    assert not re.search(r'data-user-id="\d+"', body)  # drawn as signed out
    # The next request is served as usual.
    assert client.get("/today").status_code == 200


def test_postgresql_engines_ping_pooled_connections_and_sqlite_waits_for_its_write_lock():
    options = engine_options("postgresql+psycopg://db/crm", {})
    assert options["pool_pre_ping"] is True
    assert options["connect_args"]["connect_timeout"] == 5
    given = engine_options(
        "postgresql+psycopg://db/crm", {"pool_size": 20, "connect_args": {"connect_timeout": 2}}
    )
    assert given["pool_size"] == 20 and given["connect_args"]["connect_timeout"] == 2
    # SQLite: no ping, only how long a writer waits for the lock (crm.transactions).
    sqlite = engine_options("sqlite:///x.sqlite3", {}, busy_seconds=7.5, page_cost="1.1")
    assert sqlite == {"connect_args": {"timeout": 7.5}}


def test_postgresql_connections_price_an_out_of_order_read_as_on_ssd_unless_told_not_to():
    """The server's default random_page_cost (4) made the planner read every stage change of
    the install for one team's week; each connection sets 1.1 (CRM_PG_RANDOM_PAGE_COST)."""
    url = "postgresql+psycopg://db/crm"
    assert engine_options(url, {}, page_cost="1.1")["connect_args"]["options"] == (
        "-c random_page_cost=1.1"
    )
    given = {"connect_args": {"options": "-c work_mem=8MB"}}
    both = engine_options(url, given, page_cost="2")["connect_args"]["options"]
    assert both == "-c work_mem=8MB -c random_page_cost=2.0"
    assert "options" not in engine_options(url, {}, page_cost="server")["connect_args"]
    assert "options" not in engine_options(url, {})["connect_args"]
    with pytest.raises(ValueError):
        engine_options(url, {}, page_cost="cheap")


@pytest.mark.postgres_only
def test_the_app_s_postgresql_connections_carry_the_page_cost(app):
    with app.app_context():
        assert db.session.scalar(text("SHOW random_page_cost")) == "1.1"


def test_a_connection_dropped_after_the_answer_leaves_the_answer_alone(outage_app, monkeypatch):
    """The database restarts after the view answered: closing the request's session fails.
    The answer stands, and the connection is discarded rather than reused."""
    from sqlalchemy.orm import Session

    app = outage_app
    client = app.test_client()
    assert sign_in(client, app.extensions["outage"]["rep"]).status_code == 303
    close = Session.close
    failed = []

    def dropped(session):
        if not failed:
            failed.append(session)
            raise OperationalError("ROLLBACK", {}, Exception("terminating connection"))
        return close(session)

    monkeypatch.setattr(Session, "close", dropped)
    response = client.get("/outage-answered")
    assert failed, "the session was not closed at the request's end"
    assert response.status_code == 200 and response.get_data(as_text=True) == "1"
    monkeypatch.setattr(Session, "close", close)
    assert client.get("/outage-answered").status_code == 200
