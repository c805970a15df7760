"""The working calendar through its pages, with the clock frozen in 2026: the admin's calendar
(a year's days, add, remove, load from the library) and the home's warning for 2027; a
factory's closure entered by its rep on the factory page; a rep's leave entered by their
manager, and the stand-in's Today. Bad input: a message by the field, nothing changed."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import FactoryClosure, Holiday, Leave
from crm.services.calendar import holidays
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 2, 10, 2, 0, tzinfo=UTC)  # Tuesday 10 February 2026, 10:00 in Shanghai
TODAY = date(2026, 2, 10)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    holidays.seed_year("test", 2026)
    team, other_team = builders.team(), builders.team()
    rep = builders.user("rep", team_=team)
    factory = builders.factory(builders.belt(team), owner=rep, name="Yongkang Hengda Hardware")
    people = {
        "rep": rep,
        "stand_in": builders.user("rep", team_=team),
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "admin": builders.user("admin"),
    }
    db_session.commit()
    return {"factory": factory, **people}


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, data: dict, page: str):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def field_error(response, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', text_of(response))
    return match.group(1) if match else ""


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- the admin's calendar -------------------------------------------------------------------


def test_the_admin_sees_a_years_days_off_and_make_up_days(client, world):
    sign_in(client, world["admin"].email)
    page = text_of(client.get("/admin/calendar?year=2026"))
    assert "Spring Festival" in page and "2026-02-17" in page
    make_up = page[page.index("Make-up working days") :]
    assert "2026-02-14" in make_up and "2026-02-28" in make_up


def test_the_admin_home_warns_when_the_coming_year_has_no_data(client, world):
    sign_in(client, world["admin"].email)
    page = text_of(client.get("/admin/"))
    assert "no holidays or make-up working days for 2027" in page
    assert 'href="/admin/calendar?year=2027"' in page
    response = post(
        client,
        "/admin/calendar/days",
        {"day": "2027-01-01", "kind": "holiday", "name": "New Year's Day"},
        "/admin/calendar",
    )
    assert response.status_code == 303
    assert "for 2027" not in text_of(client.get("/admin/"))


def test_the_admin_adds_and_removes_a_make_up_day(client, world):
    sign_in(client, world["admin"].email)
    response = post(
        client,
        "/admin/calendar/days",
        {"day": "2026-03-07", "kind": "workday", "name": "Company make-up day"},
        "/admin/calendar",
    )
    assert response.status_code == 303
    assert db.session.get(Holiday, date(2026, 3, 7)).kind == "workday"
    response = post(client, "/admin/calendar/remove", {"day": "2026-03-07"}, "/admin/calendar")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Holiday, date(2026, 3, 7)) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"day": "2040-01-01", "kind": "holiday"}, "day"),  # out of range
        ({"day": "2026-02-17", "kind": "holiday"}, "day"),  # there already
        ({"day": "17/02/2026", "kind": "holiday"}, "day"),
        ({"day": "2026-03-09", "kind": "weekend"}, "kind"),
        ({"day": "2026-03-09", "kind": "holiday", "name": "x" * 101}, "name"),
    ],
)
def test_a_bad_day_is_refused_by_its_field_and_nothing_changes(client, world, data, field):
    before = count(Holiday)
    sign_in(client, world["admin"].email)
    response = post(client, "/admin/calendar/days", data, "/admin/calendar")
    assert response.status_code == 422
    assert field_error(response, field)
    assert count(Holiday) == before


def test_loading_a_year_the_library_lacks_says_so(client, world):
    sign_in(client, world["admin"].email)
    page = text_of(client.get("/admin/calendar?year=2027"))
    assert "no data for 2027" in page and "Load 2027" not in page
    response = post(client, "/admin/calendar/load", {"year": "2099"}, "/admin/calendar")
    assert response.status_code == 422 and "Pick a year from" in text_of(response)


# --- a factory's closure --------------------------------------------------------------------


def test_the_rep_enters_a_closure_on_the_factory_page(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    page = text_of(client.get(f"/factories/{factory.id}"))
    assert "Enter a closure" in page and 'name="closure-starts_on"' in page
    response = post(
        client,
        f"/factories/{factory.id}/closures",
        {
            "closure-starts_on": "2026-02-24",
            "closure-ends_on": "2026-03-03",
            "closure-reason": "Spring Festival break",
        },
        f"/factories/{factory.id}",
    )
    assert response.status_code == 303
    (closure,) = db.session.scalars(select(FactoryClosure)).all()
    assert (closure.starts_on, closure.ends_on) == (date(2026, 2, 24), date(2026, 3, 3))
    page = text_of(client.get(f"/factories/{factory.id}"))
    assert "Spring Festival break" in page
    response = post(
        client,
        f"/factories/{factory.id}/closures/remove",
        {"closure_id": str(closure.id)},
        f"/factories/{factory.id}",
    )
    assert response.status_code == 303 and count(FactoryClosure) == 0


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "field"),
    [
        ("2026-03-03", "2026-02-24", "closure-ends_on"),  # until before from
        ("2026-01-05", "2026-01-09", "closure-ends_on"),  # past
        ("2029-01-01", "2029-01-05", "closure-starts_on"),  # too far ahead
        ("not a date", "2026-03-03", "closure-starts_on"),
    ],
)
def test_a_bad_closure_is_refused_by_its_field_and_nothing_changes(
    client, world, starts_on, ends_on, field
):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    response = post(
        client,
        f"/factories/{factory.id}/closures",
        {"closure-starts_on": starts_on, "closure-ends_on": ends_on},
        f"/factories/{factory.id}",
    )
    assert response.status_code == 422
    assert field_error(response, field)
    assert count(FactoryClosure) == 0


def test_a_closure_of_a_factory_out_of_scope_is_not_found(client, world):
    factory = world["factory"]
    sign_in(client, world["rep_other_team"].email)
    response = post(
        client,
        f"/factories/{factory.id}/closures",
        {"closure-starts_on": "2026-02-24", "closure-ends_on": "2026-03-03"},
        "/today",
    )
    assert response.status_code == 404 and count(FactoryClosure) == 0


# --- a rep's leave --------------------------------------------------------------------------


def test_the_manager_enters_leave_and_the_stand_in_sees_the_reps_work_that_day(app, client, world):
    rep, stand_in, factory = world["rep"], world["stand_in"], world["factory"]
    builders.follow_up(
        factory, rep, datetime(2026, 2, 12, 2, 0, tzinfo=UTC), reason="Bring the price list"
    )
    db.session.commit()
    sign_in(client, world["manager"].email)
    page = text_of(client.get("/pipeline/leaves"))
    assert "Enter leave" in page and rep.name in page
    response = post(
        client,
        "/pipeline/leaves",
        {
            "rep": str(rep.id),
            "stand_in": str(stand_in.id),
            "starts_on": "2026-02-11",
            "ends_on": "2026-02-13",
        },
        "/pipeline/leaves",
    )
    assert response.status_code == 303
    assert count(Leave) == 1
    client = app.test_client()
    sign_in(client, stand_in.email)
    assert "Bring the price list" not in text_of(client.get("/today"))  # not yet
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        today = text_of(client.get("/today"))
        assert "Bring the price list" in today
        assert f"For {rep.name}, on leave" in today  # whose work it is
        assert client.get(f"/factories/{factory.id}").status_code == 200
    with time_machine.travel(NOW + timedelta(days=4), tick=False):
        assert "Bring the price list" not in text_of(client.get("/today"))
        assert client.get(f"/factories/{factory.id}").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stand_in": "other_team"}, "stand_in"),  # a stand-in of another team
        ({"stand_in": "rep"}, "stand_in"),  # the rep themselves
        ({"ends_on": "2026-02-09"}, "ends_on"),  # until before from
        ({"starts_on": "2030-01-01", "ends_on": "2030-01-02"}, "starts_on"),  # out of range
        ({"rep": "99999999999999999999"}, "rep"),
    ],
)
def test_a_bad_leave_is_refused_by_its_field_and_nothing_changes(client, world, change, field):
    ids = {"rep": world["rep"].id, "other_team": world["rep_other_team"].id}
    data = {
        "rep": str(world["rep"].id),
        "stand_in": str(world["stand_in"].id),
        "starts_on": "2026-02-11",
        "ends_on": "2026-02-13",
    }
    data.update({name: str(ids.get(value, value)) for name, value in change.items()})
    sign_in(client, world["manager"].email)
    response = post(client, "/pipeline/leaves", data, "/pipeline/leaves")
    assert response.status_code == 422
    assert field_error(response, field)
    assert count(Leave) == 0


def test_a_rep_may_not_enter_leave(client, world):
    sign_in(client, world["rep"].email)
    assert client.get("/pipeline/leaves").status_code == 403
