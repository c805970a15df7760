"""Values at the edge (issue 19, point 2): ids beyond the id column, Unicode digits, dates at
the calendar's ends, NUL bytes and line breaks are refused by the field (a 4xx), never a 500,
and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import ApiToken, Task, Visit
from crm.services.accounts import api_tokens, auth
from tests import builders
from tests.web.helpers import csrf_token

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
HUGE = "99999999999999999999"  # above 2^63
ABOVE_INT = "2147483648"  # above PostgreSQL's integer


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team = builders.team()
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    admin = builders.user("admin")
    factory = builders.factory(builders.belt(team), owner=rep, name="Hengda Hardware")
    task = builders.task(factory, "Shop opened")
    db_session.commit()
    return {"rep": rep, "manager": manager, "admin": admin, "factory": factory, "task": task}


def signed_in(app, user):
    auth.start_session(user, "test", "127.0.0.1")
    db.session.commit()
    return app.test_client(user=user)


def post(client, path: str, data: dict, token_from: str = "/account/"):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **data})


def visit_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Visit)) or 0


# --- ids in paths answer 404 before the view runs ------------------------------------------


@pytest.mark.parametrize("number", [HUGE, ABOVE_INT, "²"])
def test_an_id_beyond_the_column_in_a_path_is_404(app, world, number):
    client = signed_in(app, world["rep"])
    assert client.get(f"/factories/{number}").status_code == 404
    response = post(client, f"/tasks/{number}/complete", {})
    assert response.status_code == 404


# --- ids and whole numbers in query strings ------------------------------------------------


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("rep", f"/inbox/?page={HUGE}"),
        ("admin", f"/admin/users?page={HUGE}"),
        ("manager", f"/factories/?owner={HUGE}"),
        ("manager", f"/factories/?page={HUGE}"),
        ("manager", "/factories/?owner=²"),
        ("admin", "/admin/users?team=²"),
        ("manager", "/pipeline/board?rep=²"),
        ("manager", f"/pipeline/board?rep={HUGE}"),
        ("manager", "/pipeline/reassign?belt=²"),
        ("manager", f"/pipeline/reassign?belt={HUGE}&page={HUGE}"),
    ],
)
def test_a_bad_number_in_a_query_string_is_ignored_not_a_500(app, world, who, path):
    client = signed_in(app, world[who])
    response = client.get(path)
    assert response.status_code == 200, path


def test_a_factory_id_beyond_the_column_on_the_visit_page_is_404(app, world):
    client = signed_in(app, world["rep"])
    assert client.get(f"/visit?factory={HUGE}").status_code == 404
    assert client.get("/visit?factory=²").status_code == 404


# --- ids in form fields: a refusal by the field, nothing changed -----------------------------


def visit_fields(factory, **changes) -> dict:
    data = {
        "factory_id": str(factory.id),
        "client_key": "phone-key-0001",
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "notes": "Owner away",
        "checked_in_at": "2026-11-25T09:59:00+08:00",
        "next": "3",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "change",
    [
        {"factory_id": HUGE},
        {"follow_up_id": HUGE},
        {"contact_id": HUGE},
        {"task_ids": HUGE},
        {"factory_id": "²"},
    ],
    ids=["factory_id", "follow_up_id", "contact_id", "task_ids", "factory_id digit"],
)
def test_an_id_beyond_the_column_in_the_visit_form_is_refused_by_the_field(app, world, change):
    client = signed_in(app, world["rep"])
    response = post(client, "/visit", visit_fields(world["factory"], **change), "/visit")
    assert response.status_code == 422
    assert visit_count() == 0


@pytest.mark.parametrize("number", [HUGE, "²"])
def test_a_notification_id_beyond_the_column_is_refused(app, world, number):
    client = signed_in(app, world["rep"])
    response = post(client, "/inbox/read", {"notification_id": number}, "/inbox/")
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("number", [HUGE, "²"])
def test_a_user_id_beyond_the_column_on_the_second_factor_reset_is_refused(app, world, number):
    client = signed_in(app, world["admin"])
    response = post(client, "/admin/security/reset", {"user_id": number}, "/admin/security/")
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/admin/jobs/webhooks/send-again", "/admin/jobs/mail/send-again"])
def test_a_delivery_id_beyond_the_column_is_refused(app, world, path):
    client = signed_in(app, world["admin"])
    response = post(client, path, {"delivery_id": HUGE}, "/admin/jobs")
    assert 300 <= response.status_code < 500


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/pipeline/reassign", {"factory_ids": "²", "to_rep": "1"}),
        ("/pipeline/reassign", {"factory_ids": "1", "to_rep": "²"}),
        ("/pipeline/reassign", {"factory_ids": HUGE, "to_rep": HUGE}),
        ("/pipeline/requests/approve", {"change_ids": "²"}),
        ("/pipeline/requests/approve", {"change_ids": HUGE}),
        ("/pipeline/reassign/hand-over", {"from_rep": "²", "to_rep": "1"}),
        ("/pipeline/reassign/hand-over", {"from_rep": HUGE, "to_rep": HUGE}),
    ],
)
def test_bad_ids_in_the_pipelines_forms_are_refused_and_change_nothing(app, world, path, data):
    client = signed_in(app, world["manager"])
    response = post(client, path, data, "/pipeline/reassign")
    assert 300 <= response.status_code < 500
    db.session.expire_all()
    assert world["factory"].owner_id == world["rep"].id


# --- dates and instants at the calendar's ends ---------------------------------------------


def api(client, user, method: str, path: str, **kwargs):
    secret = api_tokens.create(user, "edge", None).secret
    db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    return client.open(path, method=method, headers=headers, **kwargs)


def api_visit(factory, **changes) -> dict:
    body = {
        "factory_id": factory.id,
        "client_key": "edge-key-0001",
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "checked_in_at": "2026-11-25T09:59:00+08:00",
        "next": "none",
    }
    body.update(changes)
    return body


def test_a_follow_up_on_the_last_day_of_the_calendar_is_refused_by_the_api(client, world):
    path = f"/api/v1/factories/{world['factory'].id}/follow-ups"
    response = api(client, world["rep"], "POST", path, json={"due_on": "9999-12-31"})
    assert response.status_code == 422
    assert "due_on" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    "change",
    [
        {"next": "date", "next_on": "9999-12-31"},
        {"position_at": "9999-12-31T23:59:59-23:59", "lat": 29.87, "lng": 121.54},
        {"position_at": "0001-01-01T00:00:00+14:00", "lat": 29.87, "lng": 121.54},
    ],
    ids=["next_on", "position_at late", "position_at early"],
)
def test_a_visit_with_a_date_at_the_calendars_end_is_refused_by_the_field(app, world, change):
    field = "next_on" if "next_on" in change else "position_at"
    response = api(
        app.test_client(),
        world["rep"],
        "POST",
        "/api/v1/visits",
        json=api_visit(world["factory"], **change),
    )
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    client = signed_in(app, world["rep"])
    page = {name: str(value) for name, value in change.items()}
    response = post(client, "/visit", visit_fields(world["factory"], **page), "/visit")
    assert response.status_code == 422
    assert visit_count() == 0


@pytest.mark.parametrize("query", ["start=9999-12-31", "end=0001-01-01"])
def test_a_team_period_at_the_calendars_end_is_not_a_500(app, world, query):
    client = signed_in(app, world["manager"])
    assert client.get(f"/pipeline/team?{query}").status_code in (200, 422)


def test_a_token_expiring_in_the_year_one_is_refused_by_the_field(app, world):
    client = signed_in(app, world["rep"])
    data = {"name": "old", "expires_on": "0001-01-01"}
    response = post(client, "/account/tokens/", data, "/account/tokens/")
    assert response.status_code == 422
    assert api_tokens_of(world["rep"]) == 0


def api_tokens_of(user) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(ApiToken.user_id == user.id)) or 0


# --- text: no NUL, no lone surrogate, no line break where one line is meant -----------------

NUL = "Hengda\x00Hardware"


def test_a_nul_byte_on_the_factory_edit_page_is_refused_by_the_field(app, world):
    client = signed_in(app, world["rep"])
    path = f"/factories/{world['factory'].id}/edit"
    response = post(client, path, {"name": NUL, "lat": "", "lng": ""}, path)
    assert response.status_code == 422
    db.session.expire_all()
    assert world["factory"].name == "Hengda Hardware"


def test_a_nul_byte_in_a_contact_is_refused_by_the_field(app, world):
    client = signed_in(app, world["rep"])
    path = f"/factories/{world['factory'].id}"
    response = post(client, f"{path}/contacts", {"contact-name": NUL}, path)
    assert response.status_code == 422
    db.session.expire_all()
    assert world["factory"].contacts == []


def test_a_nul_byte_in_an_ad_hoc_task_is_refused_by_the_field(app, world):
    client = signed_in(app, world["rep"])
    path = f"/factories/{world['factory'].id}"
    response = post(client, f"{path}/tasks", {"title": NUL}, path)
    assert response.status_code == 422
    db.session.expire_all()
    titles = db.session.scalars(select(Task.title_en).where(Task.factory_id == world["factory"].id))
    assert list(titles) == ["Shop opened"]


@pytest.mark.parametrize("field", ["summary", "notes", "next_reason"])
def test_a_nul_byte_in_a_visit_is_refused_by_the_field(app, world, field):
    client = signed_in(app, world["rep"])
    response = post(client, "/visit", visit_fields(world["factory"], **{field: NUL}), "/visit")
    assert response.status_code == 422
    body = api_visit(world["factory"], **{field: NUL})
    response = api(app.test_client(), world["rep"], "POST", "/api/v1/visits", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    assert visit_count() == 0


def test_a_lone_surrogate_in_json_text_is_refused_naming_the_field(app, world):
    raw = '{"factory_id": %d, "client_key": "edge-key-0002", "purpose": "follow_up", '
    raw += '"checked_in_at": "2026-11-25T09:59:00+08:00", "next": "none", "summary": "\\ud800"}'
    response = api(
        app.test_client(),
        world["rep"],
        "POST",
        "/api/v1/visits",
        data=raw % world["factory"].id,
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "summary" in response.get_json()["error"]["fields"]
    assert visit_count() == 0


def test_json_nested_thousands_deep_is_a_400(app, world):
    raw = "[" * 5000 + "]" * 5000
    response = api(
        app.test_client(),
        world["rep"],
        "POST",
        "/api/v1/visits",
        data=raw,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"body": "Not JSON."}


def test_a_line_break_in_the_login_next_is_not_followed(app, world):
    client = app.test_client()
    token = csrf_token(client, "/login")
    data = {"login": world["rep"].email, "password": builders.PASSWORD, "csrf_token": token}
    response = client.post("/login", data={**data, "next": "/today\r\nX: 1"})
    assert response.status_code == 303
    assert "\n" not in response.headers["Location"]
    assert "X" not in response.headers


@pytest.mark.parametrize("owner", [ABOVE_INT, HUGE, "²"])
def test_an_owner_beyond_the_id_column_is_refused_by_the_api_naming_it(app, world, owner):
    response = api(app.test_client(), world["manager"], "GET", f"/api/v1/factories?owner={owner}")
    assert response.status_code == 422
    assert "owner" in response.get_json()["error"]["fields"]
    mine = api(app.test_client(), world["manager"], "GET", "/api/v1/factories?owner=mine")
    assert mine.status_code == 200
