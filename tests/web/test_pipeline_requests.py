"""The manager's queue of stage-change requests: approve, refuse with a reason, scope."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm.clock import now
from crm.extensions import db
from crm.models import Task
from crm.services.growth import promotions, stages
from tests import builders
from tests.web.helpers import csrf_token, sign_in


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt = builders.belt(team)
    builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    factory = builders.factory(belt, owner=rep, stage="elementary", name="Yongkang Cups Co.")
    stages.create_stage_tasks(factory, "elementary", now())
    for task in db.session.scalars(select(Task).where(Task.factory_id == factory.id)):
        task.status = "done"
    change = promotions.request_change(rep, factory, "active", "junior", "All five done", now())
    people = {
        "rep": rep,
        "manager": builders.user("manager", leads=[team]),
        "other_manager": builders.user("manager", leads=[other_team]),
    }
    db_session.commit()
    return {"factory": factory, "change": change, **people}


def decide(client, change, **form):
    token = csrf_token(client, "/account/")
    return client.post(f"/pipeline/requests/{change.id}/decide", data={"csrf_token": token, **form})


def test_the_manager_sees_the_request_with_its_eligibility(client, world):
    sign_in(client, world["manager"].email)
    page = client.get("/pipeline/requests").get_data(as_text=True)
    assert "Yongkang Cups Co." in page and "All five done" in page
    assert "Eligible: every required item is done" in page
    assert "Decide now" in client.get("/pipeline/").get_data(as_text=True)


def test_approval_moves_the_factory_and_makes_the_next_tasks(client, world, db_session):
    sign_in(client, world["manager"].email)
    response = decide(client, world["change"], decision="approve", note="")
    assert response.status_code == 303
    db_session.refresh(world["factory"])
    assert world["factory"].stage == "junior"
    count = db_session.scalar(
        select(func.count())
        .select_from(Task)
        .where(Task.factory_id == world["factory"].id, Task.stage == "junior")
    )
    assert count == 5
    assert "Nothing waits for your decision" in client.get("/pipeline/requests").get_data(
        as_text=True
    )


def test_a_refusal_without_a_reason_is_sent_back_with_a_message(client, world, db_session):
    sign_in(client, world["manager"].email)
    response = decide(client, world["change"], decision="refuse", note="")
    assert response.status_code == 422
    assert "Say why the request is refused." in response.get_data(as_text=True)
    db_session.refresh(world["change"])
    assert world["change"].decision == "pending"
    assert decide(client, world["change"], decision="refuse", note="Photos").status_code == 303
    db_session.refresh(world["factory"])
    assert world["factory"].stage == "elementary"


def test_a_decided_request_answers_409(client, world):
    sign_in(client, world["manager"].email)
    decide(client, world["change"], decision="approve")
    assert decide(client, world["change"], decision="refuse", note="Late").status_code == 409


def test_no_decision_chosen_is_a_422(client, world):
    sign_in(client, world["manager"].email)
    response = decide(client, world["change"], decision="maybe")
    assert response.status_code == 422


def test_a_manager_of_another_belt_gets_404_and_a_rep_403(app, world):
    other = app.test_client()
    sign_in(other, world["other_manager"].email)
    assert decide(other, world["change"], decision="approve").status_code == 404
    assert "Yongkang Cups Co." not in other.get("/pipeline/requests").get_data(as_text=True)
    rep = app.test_client()
    sign_in(rep, world["rep"].email)
    assert rep.get("/pipeline/requests").status_code == 403
    assert decide(rep, world["change"], decision="approve").status_code == 403


def test_bulk_approval_approves_the_ticked_eligible_requests_only(client, world, db_session):
    # A second request, on a factory that is not eligible: bulk approval leaves it waiting.
    factory = builders.factory(world["factory"].belt, owner=world["rep"], stage="junior")
    waiting = promotions.request_change(world["rep"], factory, "paused", None, "Holiday", now())
    db_session.commit()
    sign_in(client, world["manager"].email)
    page = client.get("/pipeline/requests").get_data(as_text=True)
    assert "1 request on this page is for an eligible factory" in page
    assert f'name="change_ids" value="{world["change"].id}" form="bulk-approve">' in page
    assert f'name="change_ids" value="{waiting.id}"' not in page
    token = csrf_token(client, "/account/")
    ticked = {"csrf_token": token, "change_ids": [world["change"].id, waiting.id]}
    # The first post names what will move, and changes nothing yet.
    confirm = client.post("/pipeline/requests/approve", data=ticked)
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "1 factory moves up one stage:" in text and "Yongkang Cups Co." in text
    assert "Yes, approve 1 request" in text
    db_session.refresh(world["factory"])
    assert world["factory"].stage == "elementary"
    response = client.post("/pipeline/requests/approve", data={**ticked, "confirm": "yes"})
    assert response.status_code == 303
    db_session.refresh(world["factory"])
    db_session.refresh(waiting)
    assert world["factory"].stage == "junior"
    assert waiting.decision == "pending"  # not eligible for a promotion: named, not approved
    assert "Approved 1 request." in client.get("/pipeline/requests").get_data(as_text=True)


def test_bulk_approval_with_nothing_ticked_says_so(client, world):
    sign_in(client, world["manager"].email)
    token = csrf_token(client, "/account/")
    response = client.post("/pipeline/requests/approve", data={"csrf_token": token})
    assert response.status_code == 422
    assert "Tick the eligible requests to approve first." in response.get_data(as_text=True)
