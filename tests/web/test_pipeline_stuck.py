"""The stuck lists a manager acts on: long in stage against each stage's expected time, the
visit a manager planned shown on the row and the factory page, a reassignment that asks for a
rep and is confirmed, and Promote on the eligible list."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crm.models import StageChange
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Wednesday
RECENT = NOW - timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other = builders.team("Team A"), builders.team("Team B")
    belt, other_belt = builders.belt(team), builders.belt(other)
    rep1, rep2 = builders.user("rep", team_=team), builders.user("rep", team_=team)
    rep3 = builders.user("rep", team_=other)

    def make(name, stage="elementary", entered=10, **fields):
        fields.setdefault("last_visit_at", RECENT)
        fields.setdefault("owner", rep1)
        factory = builders.factory(belt, stage=stage, name=name, **fields)
        factory.stage_entered_at = NOW - timedelta(days=entered)
        return factory

    factories = {
        "stale": make("Elem Stale", last_visit_at=NOW - timedelta(days=60)),
        "university": make("University Old", stage="university", entered=900),
        "junior_long": make("Junior Long", stage="junior", entered=130),
        "elem_long": make("Elem Long", entered=100),
        "eligible": make("Elem Eligible", eligible_since=RECENT),
        "not_eligible": make("Elem Not Eligible", eligible_since=RECENT),
        "other": builders.factory(other_belt, owner=rep3, name="Team B One"),
    }
    builders.task(factories["not_eligible"], "Shop opened", status="open", required=True)
    people = {
        "rep1": rep1,
        "rep2": rep2,
        "rep3": rep3,
        "manager": builders.user("manager", leads=[team]),
    }
    db_session.commit()
    return {**factories, **people}


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def row_names(page: str) -> list[str]:
    return re.findall(r'class="stuck-name" href="[^"]+">([^<]+)</a>', page)


def row_of(page: str, factory) -> str:
    start = page.index(f'id="stuck-{factory.id}"')
    return page[start : page.index("</li>", start)]


def manager(client, world) -> str:
    sign_in(client, world["manager"].email)
    return csrf_token(client, "/account/")


# --- long in stage ------------------------------------------------------------------------------


def test_long_in_stage_is_sorted_by_how_far_past_and_leaves_university_out(client, world):
    manager(client, world)
    page = text_of(client.get("/pipeline/stuck?kind=long"))
    # Elem Long is 40 days past Elementary's 60; Junior Long 10 past Junior's 120, though
    # longer in its stage; University has no expected time, so 900 days there list nothing.
    assert row_names(page) == ["Elem Long", "Junior Long"]
    assert "40 days past" in row_of(page, world["elem_long"])
    assert "100 days in stage; expected 60" in row_of(page, world["elem_long"])


def test_the_admin_leaves_a_stage_s_expected_time_empty_or_sets_it(client, world, db_session):
    admin = builders.user("admin")
    db_session.commit()
    sign_in(client, admin.email)
    form = text_of(client.get("/admin/settings"))
    assert re.search(r'name="long_university"[^>]*value=""', form) or (
        'name="long_university" type="number" value=""' in form
    )
    token = csrf_token(client, "/admin/settings")
    fields = dict(
        re.findall(r'name="(\w+)" type="number" value="([^"]*)"', form),
        csrf_token=token,
        rate_limit_api="300 per minute",
        stay_signed_in="y",
        photo_required_purposes="video_shoot",
    )
    response = client.post("/admin/settings", data={**fields, "long_university": "365"})
    assert response.status_code == 303
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account/")})
    manager(client, world)
    page = text_of(client.get("/pipeline/stuck?kind=long"))
    assert row_names(page) == ["University Old", "Elem Long", "Junior Long"]


# --- a planned visit shows ----------------------------------------------------------------------


def test_a_planned_visit_shows_on_the_row_and_on_the_factory_page(client, world):
    token = manager(client, world)
    factory = world["stale"]
    before = text_of(client.get("/pipeline/stuck?kind=stale"))
    assert "Visit planned" not in row_of(before, factory)
    response = client.post(
        f"/pipeline/factories/{factory.id}/schedule",
        data={"csrf_token": token, "days": "7", "next": "/pipeline/stuck?kind=stale"},
    )
    assert response.status_code == 303
    # In a week is Wednesday 2 December, a working day.
    row = row_of(text_of(client.get("/pipeline/stuck?kind=stale")), factory)
    assert "Visit planned" in row and 'datetime="2026-12-02T02:00:00+00:00"' in row
    assert world["rep1"].name in row
    page = text_of(client.get(f"/factories/{factory.id}"))
    planned = page[page.index('class="fp-planned"') :]
    assert "Visit planned" in planned[:400]
    assert 'datetime="2026-12-02T02:00:00+00:00"' in planned[:400]


def test_a_rep_s_own_follow_up_is_not_a_planned_visit(client, world, db_session):
    builders.follow_up(world["stale"], world["rep1"], NOW + timedelta(days=2))
    db_session.commit()
    manager(client, world)
    assert "Visit planned" not in row_of(
        text_of(client.get("/pipeline/stuck?kind=stale")), world["stale"]
    )


# --- reassign asks and confirms -----------------------------------------------------------------


def test_reassign_has_no_rep_chosen_until_the_manager_picks_one(client, world, db_session):
    token = manager(client, world)
    factory = world["stale"]
    row = row_of(text_of(client.get("/pipeline/stuck?kind=stale")), factory)
    select = row[row.index('name="to_rep"') : row.index("</select>")]
    assert "required" in select.split(">")[0]
    assert '<option value="" selected disabled>Choose a rep</option>' in select
    response = client.post(
        f"/pipeline/factories/{factory.id}/reassign",
        data={"csrf_token": token, "to_rep": "", "next": "/pipeline/stuck?kind=stale"},
    )
    assert response.status_code == 303
    assert "Choose a rep of your teams." in text_of(client.get(response.headers["Location"]))
    db_session.refresh(factory)
    assert factory.owner_id == world["rep1"].id


def test_reassign_asks_to_confirm_before_it_applies(client, world, db_session):
    token = manager(client, world)
    factory = world["stale"]
    data = {"csrf_token": token, "to_rep": world["rep2"].id, "next": "/pipeline/stuck?kind=stale"}
    asked = client.post(f"/pipeline/factories/{factory.id}/reassign", data=data)
    assert asked.status_code == 200
    page = text_of(asked)
    assert f"Reassign {factory.name}?" in page
    assert f"From {world['rep1'].name} to {world['rep2'].name}." in page
    assert 'name="confirmed" value="yes"' in page
    db_session.refresh(factory)
    assert factory.owner_id == world["rep1"].id  # nothing moved yet
    done = client.post(
        f"/pipeline/factories/{factory.id}/reassign", data={**data, "confirmed": "yes"}
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/pipeline/stuck?kind=stale"
    db_session.refresh(factory)
    assert factory.owner_id == world["rep2"].id


def test_reassign_to_a_rep_of_another_team_is_refused_before_confirming(client, world, db_session):
    token = manager(client, world)
    factory = world["stale"]
    response = client.post(
        f"/pipeline/factories/{factory.id}/reassign",
        data={"csrf_token": token, "to_rep": world["rep3"].id, "confirmed": "yes"},
    )
    assert response.status_code == 303
    db_session.refresh(factory)
    assert factory.owner_id == world["rep1"].id


# --- promote an eligible factory ----------------------------------------------------------------


def test_eligible_not_requested_has_promote_beside_plan_a_visit(client, world, db_session):
    token = manager(client, world)
    factory = world["eligible"]
    row = row_of(text_of(client.get("/pipeline/stuck?kind=eligible")), factory)
    assert "Plan a visit" in row and "Promote to Junior high" in row
    assert f'action="/pipeline/factories/{factory.id}/promote"' in row
    response = client.post(
        f"/pipeline/factories/{factory.id}/promote",
        data={"csrf_token": token, "next": "/pipeline/stuck?kind=eligible"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/pipeline/stuck?kind=eligible"
    db_session.refresh(factory)
    assert factory.stage == "junior"
    change = db_session.query(StageChange).filter_by(factory_id=factory.id).one()
    assert change.decision == "direct" and not change.is_override
    assert "Elem Eligible is in Junior high now." in text_of(client.get("/pipeline/stuck"))


def test_promote_refuses_a_factory_that_is_not_eligible_now(client, world, db_session):
    token = manager(client, world)
    factory = world["not_eligible"]
    response = client.post(
        f"/pipeline/factories/{factory.id}/promote",
        data={"csrf_token": token, "next": "/pipeline/stuck?kind=eligible"},
    )
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    assert "This move is an override" in page
    db_session.refresh(factory)
    assert factory.stage == "elementary"


def test_promote_outside_the_manager_s_belts_is_404(client, world):
    token = manager(client, world)
    response = client.post(
        f"/pipeline/factories/{world['other'].id}/promote", data={"csrf_token": token}
    )
    assert response.status_code == 404
