"""Follow-ups through the pages: Today's rows and counts, schedule / move / complete / cancel,
refusals by the field with nothing changed, scope as 404, and "Near me"."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import FollowUp, Holiday
from crm.models.followup import REASON_MAX
from tests import builders
from tests.web.helpers import csrf_token, sign_in

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 25 Nov 2026, 10:00 in Shanghai
TODAY = date(2026, 11, 25)


def shanghai_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt = builders.belt(team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(
        belt, owner=rep, stage="junior", name="Yongkang Hengda Hardware", lat=28.90, lng=120.03
    )
    follow_up = builders.follow_up(factory, rep, NOW + timedelta(days=2), reason="Shoot videos")
    factory.next_follow_up_at = follow_up.due_at
    people = {
        "rep": rep,
        "rep_same_team": builders.user("rep", team_=team),
        "rep_other_team": builders.user("rep", team_=other_team),
        "manager": builders.user("manager", leads=[team]),
        "manager_other_belt": builders.user("manager", leads=[other_team]),
        "factory_user": builders.user("factory", factory=factory),
    }
    db_session.commit()
    return {"factory": factory, "follow_up": follow_up, "belt": belt, **people}


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, data: dict | None = None, page: str = "/today"):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})


def open_follow_ups(factory) -> list[FollowUp]:
    return db.session.scalars(
        select(FollowUp)
        .where(FollowUp.factory_id == factory.id, FollowUp.status == "open")
        .order_by(FollowUp.due_at)
    ).all()


def field_error(response, field_id: str) -> str:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', text_of(response))
    return match.group(1) if match else ""


def flashes(client) -> str:
    return text_of(client.get("/today"))


# --- Today ----------------------------------------------------------------------------------


def test_today_lists_overdue_first_with_counts_and_actions(client, world):
    factory, rep = world["factory"], world["rep"]
    builders.follow_up(factory, rep, NOW - timedelta(days=1), reason="Send the price list")
    builders.follow_up(factory, rep, NOW + timedelta(hours=3), reason="Check the shop photos")
    db.session.commit()
    sign_in(client, rep.email)
    page = text_of(client.get("/today"))
    assert re.search(r'count-number">1</span> overdue', page)
    assert re.search(r'count-number">1</span> today', page)
    assert re.search(r'count-number">1</span> next 7 days', page)
    assert page.index("Send the price list") < page.index("Check the shop photos")
    assert page.index("Check the shop photos") < page.index("Shoot videos")
    assert f'href="/visit?factory={factory.id}"' in page
    assert f'action="/follow-ups/{world["follow_up"].id}/complete"' in page
    assert f'action="/follow-ups/{world["follow_up"].id}/reschedule"' in page
    assert f'action="/follow-ups/{world["follow_up"].id}/cancel"' in page
    assert "Junior high" in page and "Near me" in page


def test_todays_row_actions_are_rendered_once_a_process_each_with_its_own_ids(
    app, client, world, db_session
):
    """Check in, Done, Move and Cancel are kept per process (issue 25); each row carries its
    own follow-up's and factory's ids."""
    from flask import template_rendered

    rep = world["rep"]
    other = builders.factory(world["belt"], owner=rep, stage="junior", name="Wuyi Cup Works")
    second = builders.follow_up(other, rep, NOW + timedelta(hours=3), reason="Bring samples")
    db_session.commit()
    sign_in(client, rep.email)
    rendered: list[str] = []

    def note(_app, template, **_extra):
        rendered.append(template.name)

    app.extensions.pop("crm_fragments", None)  # another test may have kept it in this worker
    template_rendered.connect(note, app)
    try:
        first = text_of(client.get("/today"))
        rendered_first = list(rendered)
        rendered.clear()
        again = text_of(client.get("/today"))
    finally:
        template_rendered.disconnect(note, app)
    assert "followups/_row_actions.html" in rendered_first
    assert "followups/_row_actions.html" not in rendered
    assert again == first
    for follow_up, factory in ((world["follow_up"], world["factory"]), (second, other)):
        start = first.index(f'id="follow-up-{follow_up.id}"')
        row = first[start : first.index("</li>", start)]
        assert f'aria-labelledby="fu-{follow_up.id}-name"' in row
        assert f'href="/visit?factory={factory.id}"' in row
        for action in ("complete", "reschedule", "cancel"):
            assert f'formaction="/follow-ups/{follow_up.id}/{action}"' in row
        assert f'name="due_on-{follow_up.id}" min="2026-11-25"' in row


def test_a_managers_today_shows_the_follow_ups_assigned_to_them(client, world):
    manager = world["manager"]
    builders.follow_up(world["factory"], manager, NOW + timedelta(hours=1), reason="Key account")
    db.session.commit()
    sign_in(client, manager.email)
    page = text_of(client.get("/today"))
    assert "Key account" in page and "Shoot videos" not in page


# --- scheduling -------------------------------------------------------------------------------


def test_a_quick_pick_schedules_at_ten_three_days_on_and_goes_back(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    response = post(
        client,
        f"/factories/{factory.id}/follow-ups",
        {"in_days": "3", "reason": "Bring the video crew", "next": f"/factories/{factory.id}"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{factory.id}"
    made = db.session.scalars(select(FollowUp).where(FollowUp.reason == "Bring the video crew"))
    follow_up = made.one()
    # Three days on is a Saturday: the Monday after.
    assert follow_up.due_at == shanghai_ten(date(2026, 11, 30))
    assert follow_up.origin == "manual" and follow_up.created_by_id == world["rep"].id
    assert "Follow-up set for" in flashes(client)


def test_a_picked_date_past_a_holiday_says_it_was_moved(client, world, db_session):
    db_session.add(Holiday(day=date(2026, 12, 1), name="Test holiday"))
    db_session.commit()
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    response = post(client, f"/factories/{factory.id}/follow-ups", {"due_on": "2026-12-01"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{factory.id}#reach"
    assert open_follow_ups(factory)[-1].due_at == shanghai_ten(date(2026, 12, 2))
    assert "moved past a holiday" in flashes(client)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"due_on": "2026-11-24"}, "fu-new-due_on", "cannot be due in the past"),
        ({}, "fu-new-due_on", "Pick a date, or tap one of the quick picks."),
        ({"due_on": "2026-12-01", "reason": "x" * (REASON_MAX + 1)}, "fu-new-reason", "at most"),
        ({"due_on": "not a date"}, "fu-new-due_on", "date"),
    ],
)
def test_refused_scheduling_shows_the_message_by_the_field_and_changes_nothing(
    client, world, data, field, message
):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    before = db.session.scalar(select(func.count()).select_from(FollowUp))
    response = post(client, f"/factories/{factory.id}/follow-ups", {**data, "next": "/today"})
    assert response.status_code == 422
    assert message in field_error(response, field)
    assert "Nothing was changed" in text_of(response)
    assert 'name="next" value="/today"' in text_of(response)
    assert db.session.scalar(select(func.count()).select_from(FollowUp)) == before
    db.session.refresh(factory)
    assert factory.next_follow_up_at == world["follow_up"].due_at


def test_a_foreign_next_is_not_followed(client, world):
    factory = world["factory"]
    sign_in(client, world["rep"].email)
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        response = post(
            client, f"/factories/{factory.id}/follow-ups", {"in_days": "7", "next": target}
        )
        assert response.headers["Location"] == f"/factories/{factory.id}#reach"


# --- moving, completing, cancelling ---------------------------------------------------------------


def test_moving_changes_the_date_and_the_factorys_next_follow_up(client, world):
    follow_up, factory = world["follow_up"], world["factory"]
    sign_in(client, world["rep"].email)
    response = post(
        client,
        f"/follow-ups/{follow_up.id}/reschedule",
        {"due_on": "2026-12-03", "next": "/today"},
    )
    assert response.status_code == 303 and response.headers["Location"] == "/today"
    db.session.refresh(follow_up)
    db.session.refresh(factory)
    assert follow_up.due_at == shanghai_ten(date(2026, 12, 3))
    assert factory.next_follow_up_at == follow_up.due_at
    assert "Follow-up moved to" in flashes(client)


def test_moving_to_a_past_date_is_refused_with_nothing_changed(client, world):
    follow_up = world["follow_up"]
    sign_in(client, world["rep"].email)
    response = post(client, f"/follow-ups/{follow_up.id}/reschedule", {"due_on": "2026-11-01"})
    assert response.status_code == 422
    assert "cannot be due in the past" in field_error(response, f"fu-move-{follow_up.id}")
    db.session.refresh(follow_up)
    assert follow_up.due_at == NOW + timedelta(days=2)


def test_done_completes_it_and_clears_the_factorys_next_follow_up(client, world):
    follow_up, factory = world["follow_up"], world["factory"]
    sign_in(client, world["rep"].email)
    response = post(client, f"/follow-ups/{follow_up.id}/complete", {"next": "/today"})
    assert response.status_code == 303 and response.headers["Location"] == "/today"
    db.session.refresh(follow_up)
    db.session.refresh(factory)
    assert follow_up.status == "done" and follow_up.completed_at == NOW
    assert follow_up.completed_by_visit_id is None
    assert factory.next_follow_up_at is None
    assert "Follow-up done: Yongkang Hengda Hardware." in flashes(client)


def test_cancel_drops_it(client, world):
    follow_up = world["follow_up"]
    sign_in(client, world["manager"].email)
    response = post(client, f"/follow-ups/{follow_up.id}/cancel")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/factories/{world['factory'].id}#reach"
    db.session.refresh(follow_up)
    assert follow_up.status == "cancelled"


def test_a_second_tap_on_done_changes_nothing_and_says_so(client, world):
    follow_up = world["follow_up"]
    sign_in(client, world["rep"].email)
    post(client, f"/follow-ups/{follow_up.id}/complete", {"next": "/today"})
    again = post(client, f"/follow-ups/{follow_up.id}/cancel", {"next": "/today"})
    assert again.status_code == 303
    db.session.refresh(follow_up)
    assert follow_up.status == "done"
    assert "This follow-up is done already; nothing was changed." in flashes(client)


# --- scope ------------------------------------------------------------------------------------


def routes(world) -> list[str]:
    follow_up = world["follow_up"].id
    return [
        f"/factories/{world['factory'].id}/follow-ups",
        f"/follow-ups/{follow_up}/reschedule",
        f"/follow-ups/{follow_up}/complete",
        f"/follow-ups/{follow_up}/cancel",
    ]


@pytest.mark.parametrize(
    "position", ["rep_same_team", "rep_other_team", "manager_other_belt", "factory_user"]
)
def test_people_outside_the_factorys_scope_get_404_and_nothing_changes(client, world, position):
    sign_in(client, world[position].email)
    page = "/account/"
    for path in routes(world):
        data = {"in_days": "3", "due_on": "2026-12-01"}
        assert post(client, path, data, page=page).status_code == 404, path
    db.session.refresh(world["follow_up"])
    assert world["follow_up"].status == "open"
    assert world["follow_up"].due_at == NOW + timedelta(days=2)
    assert len(open_follow_ups(world["factory"])) == 1


def test_a_factory_user_has_no_today_page(client, world):
    sign_in(client, world["factory_user"].email)
    assert client.get("/today").status_code == 404
    assert client.get("/today/near?lat=28.9&lng=120.03").status_code == 404


# --- the factory page ---------------------------------------------------------------------------


def test_the_factory_page_offers_done_move_cancel_and_the_quick_picks(client, world):
    factory, follow_up = world["factory"], world["follow_up"]
    sign_in(client, world["rep"].email)
    page = text_of(client.get(f"/factories/{factory.id}"))
    assert f'action="/follow-ups/{follow_up.id}/complete"' in page
    assert f'action="/follow-ups/{follow_up.id}/reschedule"' in page
    assert f'action="/follow-ups/{follow_up.id}/cancel"' in page
    assert f'action="/factories/{factory.id}/follow-ups"' in page
    for label in ("In 3 days", "In 1 week", "In 2 weeks"):
        assert label in page
    assert 'min="2026-11-25"' in page


# --- near me ------------------------------------------------------------------------------------


def test_near_me_lists_the_reps_located_factories_nearest_first(client, world):
    rep, belt = world["rep"], world["belt"]
    builders.factory(belt, owner=rep, name="Across the street", lat=28.9010, lng=120.03)
    builders.factory(belt, owner=rep, name="No location yet")
    builders.factory(belt, owner=world["rep_same_team"], name="Colleague's", lat=28.9, lng=120.03)
    db.session.commit()
    sign_in(client, rep.email)
    response = client.get("/today/near?lat=28.9010&lng=120.03")
    page = text_of(response)
    assert response.status_code == 200
    assert page.index("Across the street") < page.index("Yongkang Hengda Hardware")
    assert "No location yet" not in page and "Colleague's" not in page
    assert ">10 m<" in page and ">110 m<" in page  # to the nearest 10 m
    assert f'href="/visit?factory={world["factory"].id}"' in page
    assert "<html" not in page  # a fragment for Today, not a page


@pytest.mark.parametrize(
    "query", ["", "?lat=abc&lng=120", "?lat=95&lng=120", "?lat=28.9&lng=-181", "?lat=28.9"]
)
def test_near_me_refuses_a_bad_position_with_a_message(client, world, query):
    sign_in(client, world["rep"].email)
    response = client.get("/today/near" + query)
    assert response.status_code == 422
    assert "Tap Near me again." in text_of(response)


def test_near_me_says_km_for_a_far_factory(client, world):
    sign_in(client, world["rep"].email)
    page = text_of(client.get("/today/near?lat=28.90&lng=120.08"))
    assert "4.9 km" in page
