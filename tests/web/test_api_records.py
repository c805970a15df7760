"""The API's records through a bearer token: scope (another team's factory is 404), role
refusals (403 only in scope), validation naming the field (422), exactly-once visits, and
stable pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Factory, FollowUp, MetricSnapshot, StageChange, Visit
from crm.services.accounts import api_tokens
from tests import builders


@pytest.fixture
def world(db_session):
    team, other_team = builders.team(), builders.team()
    belt, other_belt = builders.belt(team), builders.belt(other_team)
    rep = builders.user("rep", team_=team)
    manager = builders.user("manager", leads=[team])
    factory = builders.factory(belt, owner=rep, stage="junior", name="Alpha Hardware")
    others = builders.factory(other_belt, owner=builders.user("rep", team_=other_team))
    portal_user = builders.user("factory", factory=factory)
    db_session.commit()
    tokens = {
        name: api_tokens.create(user, name, None).secret
        for name, user in (("rep", rep), ("manager", manager), ("factory", portal_user))
    }
    db_session.commit()
    return {
        "rep": rep,
        "manager": manager,
        "belt": belt,
        "factory": factory,
        "others": others,
        "tokens": tokens,
    }


def call(client, world, method, path, who="rep", **kwargs):
    headers = {"Authorization": f"Bearer {world['tokens'][who]}", **kwargs.pop("headers", {})}
    return client.open(path, method=method, headers=headers, **kwargs)


def visit_body(factory, **changes) -> dict:
    body = {
        "factory_id": factory.id,
        "purpose": "follow_up",
        "summary": "Shop photos retaken",
        "checked_in_at": datetime.now(UTC).isoformat(),
        "next": "none",
    }
    body.update(changes)
    return body


# --- factories ----------------------------------------------------------------------------


def test_another_teams_factory_is_not_found(client, world):
    for method, path, body in (
        ("GET", f"/api/v1/factories/{world['others'].id}", None),
        ("PATCH", f"/api/v1/factories/{world['others'].id}", {"name": "Taken"}),
        ("POST", f"/api/v1/factories/{world['others'].id}/follow-ups", {"due_on": "2099-01-01"}),
    ):
        response = call(client, world, method, path, json=body)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"
    listed = call(client, world, "GET", "/api/v1/factories").get_json()
    assert [item["id"] for item in listed["items"]] == [world["factory"].id]


def test_factory_list_takes_the_pages_filters(client, world):
    found = call(client, world, "GET", "/api/v1/factories?stage=junior&q=alpha").get_json()
    assert [item["name"] for item in found["items"]] == ["Alpha Hardware"]
    # In its stage for 30 days with no visit, twice the junior cadence of 14 days: stale.
    assert found["items"][0]["flags"] == {"stale": True, "overdue": False, "eligible": False}
    stale = call(client, world, "GET", "/api/v1/factories?flag=stale").get_json()
    assert stale["total"] == 1
    none = call(client, world, "GET", "/api/v1/factories?stage=senior").get_json()
    assert none["items"] == [] and none["total"] == 0


def test_a_bad_filter_is_refused_naming_the_parameter(client, world):
    response = call(client, world, "GET", "/api/v1/factories?stage=kindergarten&page=x")
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"stage", "page"}


def test_a_rep_creates_a_prospect_that_they_own(client, world, db_session):
    body = {"name": "Beta Tools", "belt_id": world["belt"].id, "lat": 29.1, "lng": 121.2}
    response = call(client, world, "POST", "/api/v1/factories", json=body)
    assert response.status_code == 201
    made = response.get_json()
    assert made["status"] == "prospect" and made["owner"]["id"] == world["rep"].id
    assert made["created_at"].endswith("+00:00")
    assert response.headers["Location"].endswith(f"/api/v1/factories/{made['id']}")


def test_bad_input_is_refused_naming_each_field_and_nothing_is_made(client, world, db_session):
    before = db_session.scalar(select(func.count()).select_from(Factory))
    body = {"name": "", "belt_id": world["belt"].id, "lat": 95, "colour": "red"}
    response = call(client, world, "POST", "/api/v1/factories", json=body)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"lat", "colour"} <= set(fields)
    wrong_type = call(client, world, "POST", "/api/v1/factories", json={"name": 5})
    assert set(wrong_type.get_json()["error"]["fields"]) == {"name", "belt_id"}
    rule = call(
        client,
        world,
        "POST",
        "/api/v1/factories",
        json={"name": "Gamma", "belt_id": world["belt"].id, "lat": 29.1},
    )
    assert rule.status_code == 422 and "lng" in rule.get_json()["error"]["fields"]
    assert db_session.scalar(select(func.count()).select_from(Factory)) == before


def test_malformed_json_is_a_400(client, world):
    response = call(
        client,
        world,
        "POST",
        "/api/v1/factories",
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_a_rep_may_edit_details_but_not_the_belt(client, world):
    factory = world["factory"]
    renamed = call(client, world, "PATCH", f"/api/v1/factories/{factory.id}", json={"name": "A2"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "A2"
    other_belt = builders.belt(world["belt"].team)
    db.session.commit()
    moved = call(
        client, world, "PATCH", f"/api/v1/factories/{factory.id}", json={"belt_id": other_belt.id}
    )
    assert moved.status_code == 403
    managed = call(
        client,
        world,
        "PATCH",
        f"/api/v1/factories/{factory.id}",
        who="manager",
        json={"belt_id": other_belt.id},
    )
    assert managed.status_code == 200 and managed.get_json()["belt"]["id"] == other_belt.id


def test_a_factory_user_finds_no_staff_routes(client, world):
    response = call(client, world, "GET", "/api/v1/factories", who="factory")
    assert response.status_code == 404


# --- visits -------------------------------------------------------------------------------


def test_the_same_key_twice_gives_one_visit(client, world, db_session):
    body = visit_body(world["factory"])
    headers = {"Idempotency-Key": "integration-key-0001"}
    first = call(client, world, "POST", "/api/v1/visits", json=body, headers=headers)
    second = call(client, world, "POST", "/api/v1/visits", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["visit"]["id"] == second.get_json()["visit"]["id"]
    assert second.get_json()["created"] is False
    count = db_session.scalar(
        select(func.count()).select_from(Visit).where(Visit.client_key == "integration-key-0001")
    )
    assert count == 1
    other = call(
        client,
        world,
        "POST",
        "/api/v1/visits",
        json={**body, "summary": "Something else"},
        headers=headers,
    )
    assert other.status_code == 409


def test_the_key_in_the_body_is_used_too_and_must_agree_with_the_header(client, world):
    body = visit_body(world["factory"], client_key="body-key-0001")
    assert call(client, world, "POST", "/api/v1/visits", json=body).status_code == 201
    mismatch = call(
        client,
        world,
        "POST",
        "/api/v1/visits",
        json=body,
        headers={"Idempotency-Key": "header-key-0001"},
    )
    assert mismatch.status_code == 400
    assert "client_key" in mismatch.get_json()["error"]["fields"]


def test_a_visit_refused_names_the_field(client, world):
    body = visit_body(world["factory"], purpose="party", client_key="key-for-party")
    response = call(client, world, "POST", "/api/v1/visits", json=body)
    assert response.status_code == 422
    assert "purpose" in response.get_json()["error"]["fields"]


def test_visits_list_and_read_within_scope(client, world):
    visit = builders.visit(world["factory"], world["rep"])
    hidden = builders.visit(world["others"], world["others"].owner)
    db.session.commit()
    listed = call(client, world, "GET", "/api/v1/visits").get_json()
    assert [item["id"] for item in listed["items"]] == [visit.id]
    assert call(client, world, "GET", f"/api/v1/visits/{visit.id}").status_code == 200
    assert call(client, world, "GET", f"/api/v1/visits/{hidden.id}").status_code == 404


# --- follow-ups ---------------------------------------------------------------------------


def test_follow_ups_are_planned_completed_and_cancelled_once(client, world, db_session):
    factory = world["factory"]
    due = (date.today() + timedelta(days=5)).isoformat()
    made = call(
        client,
        world,
        "POST",
        f"/api/v1/factories/{factory.id}/follow-ups",
        json={"due_on": due, "reason": "Bring the video"},
    )
    assert made.status_code == 201
    follow_up_id = made.get_json()["id"]
    assert "T" in made.get_json()["due_at"] and made.get_json()["due_at"].endswith("+00:00")
    done = call(client, world, "POST", f"/api/v1/follow-ups/{follow_up_id}/complete")
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    again = call(client, world, "POST", f"/api/v1/follow-ups/{follow_up_id}/cancel")
    assert again.status_code == 409
    listed = call(client, world, "GET", f"/api/v1/follow-ups?factory_id={factory.id}").get_json()
    assert [item["id"] for item in listed["items"]] == [follow_up_id]
    past = call(
        client,
        world,
        "POST",
        f"/api/v1/factories/{factory.id}/follow-ups",
        json={"due_on": "2000-01-01"},
    )
    assert past.status_code == 422 and "due_on" in past.get_json()["error"]["fields"]
    assert db_session.get(FollowUp, follow_up_id).status == "done"


def test_pages_by_id_are_stable(client, world):
    rep, factory = world["rep"], world["factory"]
    due = datetime.now(UTC) + timedelta(days=3)
    ids = [builders.follow_up(factory, rep, due).id for _ in range(5)]
    db.session.commit()
    first = call(client, world, "GET", "/api/v1/follow-ups?limit=2").get_json()
    assert [item["id"] for item in first["items"]] == ids[:2]
    builders.follow_up(factory, rep, due)  # added behind the page: moves nothing seen
    db.session.commit()
    second = call(
        client, world, "GET", f"/api/v1/follow-ups?limit=2&after={first['next_after']}"
    ).get_json()
    assert [item["id"] for item in second["items"]] == ids[2:4]


# --- tasks --------------------------------------------------------------------------------


def test_staff_tick_tasks_and_the_factory_hands_in_evidence(client, world):
    factory = world["factory"]
    task = builders.task(factory, required=True)
    other = builders.task(factory, title="Videos")
    db.session.commit()
    ticked = call(client, world, "PATCH", f"/api/v1/tasks/{task.id}", json={"status": "done"})
    assert ticked.status_code == 200 and ticked.get_json()["status"] == "done"
    waived = call(
        client,
        world,
        "PATCH",
        f"/api/v1/tasks/{other.id}",
        json={"status": "waived", "reason": "x"},
    )
    assert waived.status_code == 403  # a required item is a manager's to waive
    handed = call(
        client,
        world,
        "POST",
        f"/api/v1/tasks/{other.id}/evidence",
        who="factory",
        json={"link": "https://video.example/1"},
    )
    assert handed.status_code == 200 and handed.get_json()["status"] == "submitted"
    assert "waive_reason" not in handed.get_json()
    by_staff = call(client, world, "POST", f"/api/v1/tasks/{other.id}/evidence", json={})
    assert by_staff.status_code == 403
    third = builders.task(factory, title="Merchant Day")
    db.session.commit()
    empty = call(
        client,
        world,
        "POST",
        f"/api/v1/tasks/{third.id}/evidence",
        who="factory",
        json={"link": "ftp://nope"},
    )
    assert empty.status_code == 422 and "link" in empty.get_json()["error"]["fields"]
    sent_back = call(
        client,
        world,
        "PATCH",
        f"/api/v1/tasks/{other.id}",
        json={"status": "open", "reason": "The video is too dark"},
    )
    assert sent_back.get_json()["send_back_reason"] == "The video is too dark"
    own = call(client, world, "GET", "/api/v1/tasks", who="factory").get_json()
    assert {item["id"] for item in own["items"]} == {task.id, other.id, third.id}


# --- snapshots and stage changes ----------------------------------------------------------


def test_a_snapshot_is_made_then_replaced(client, world, db_session):
    path = f"/api/v1/factories/{world['factory'].id}/snapshots"
    month = date.today().replace(day=1).isoformat()
    body = {"metric": "response_3min_rate", "month": month, "value": 72.5}
    first = call(client, world, "POST", path, json=body)
    assert first.status_code == 201 and first.get_json()["value"] == "72.5"
    second = call(client, world, "POST", path, json={**body, "value": "80"})
    assert second.status_code == 200 and second.get_json()["id"] == first.get_json()["id"]
    out_of_range = call(client, world, "POST", path, json={**body, "value": 120})
    assert out_of_range.status_code == 422
    assert "value" in out_of_range.get_json()["error"]["fields"]
    assert db_session.scalar(select(func.count()).select_from(MetricSnapshot)) == 1
    listed = call(client, world, "GET", "/api/v1/snapshots?metric=response_3min_rate").get_json()
    assert [item["value"] for item in listed["items"]] == ["80"]


def test_a_rep_requests_and_only_a_manager_decides(client, world, db_session):
    factory = world["factory"]
    refused_override = call(
        client,
        world,
        "POST",
        f"/api/v1/factories/{factory.id}/stage-changes",
        json={"to_status": "active", "to_stage": "university"},
    )
    assert refused_override.status_code == 422
    paused = call(
        client,
        world,
        "POST",
        f"/api/v1/factories/{factory.id}/stage-changes",
        json={"to_status": "paused", "reason": "Closed for the new year"},
    )
    assert paused.status_code == 201 and paused.get_json()["decision"] == "pending"
    change_id = paused.get_json()["id"]
    twice = call(
        client,
        world,
        "POST",
        f"/api/v1/factories/{factory.id}/stage-changes",
        json={"to_status": "paused"},
    )
    assert twice.status_code == 409
    path = f"/api/v1/stage-changes/{change_id}/decision"
    assert call(client, world, "POST", path, json={"approve": True}).status_code == 403
    decided = call(client, world, "POST", path, who="manager", json={"approve": True})
    assert decided.status_code == 200 and decided.get_json()["decision"] == "approved"
    assert db_session.get(StageChange, change_id).decided_by_id == world["manager"].id
    listed = call(client, world, "GET", "/api/v1/stage-changes?decision=approved").get_json()
    assert [item["id"] for item in listed["items"]] == [change_id]


# --- the query read as documented (issue 20, point 2) ---------------------------------------


@pytest.mark.parametrize("raw", ["1_0", "+5", "１", " 5", "5 "])
def test_a_whole_number_in_the_query_is_ascii_digits_only(client, world, raw):
    response = call(client, world, "GET", "/api/v1/visits", query_string={"limit": raw})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"limit"}


@pytest.mark.parametrize(
    "path, name",
    [
        ("/api/v1/factories", "status"),
        ("/api/v1/factories", "flag"),
        ("/api/v1/factories", "owner"),
        ("/api/v1/visits", "limit"),
        ("/api/v1/visits", "factory_id"),
        ("/api/v1/follow-ups", "status"),
        ("/api/v1/stage-changes", "decision"),
        ("/api/v1/snapshots", "metric"),
    ],
)
def test_an_empty_parameter_is_refused_naming_it(client, world, path, name):
    response = call(client, world, "GET", f"{path}?{name}=")
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {name}


def test_an_empty_search_is_no_search_as_the_document_says(client, world):
    response = call(client, world, "GET", "/api/v1/factories?q=")
    assert response.status_code == 200 and response.get_json()["total"] == 1
    document = client.get("/api/v1/openapi.json").get_json()
    parameters = document["paths"]["/api/v1/factories"]["get"]["parameters"]
    q = next(parameter for parameter in parameters if parameter["name"] == "q")
    assert q["allowEmptyValue"] is True
    status = next(parameter for parameter in parameters if parameter["name"] == "status")
    assert "allowEmptyValue" not in status


def test_a_parameter_sent_twice_is_refused(client, world):
    response = call(client, world, "GET", "/api/v1/visits?limit=5&limit=6")
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"limit"}


@pytest.mark.parametrize("owner", ["bogus", "-5", "0"])
def test_an_owner_that_is_no_word_and_no_id_is_refused(client, world, owner):
    response = call(client, world, "GET", "/api/v1/factories", query_string={"owner": owner})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"owner"}


def test_a_rep_may_not_narrow_the_list_to_a_reps_id_not_even_their_own(client, world):
    for owner in (world["rep"].id, world["others"].owner_id):
        response = call(client, world, "GET", f"/api/v1/factories?owner={owner}")
        assert response.status_code == 403
        assert set(response.get_json()["error"]["fields"]) == {"owner"}
    assert call(client, world, "GET", "/api/v1/factories?owner=mine").status_code == 200
    managed = call(client, world, "GET", f"/api/v1/factories?owner={world['rep'].id}", "manager")
    assert [item["id"] for item in managed.get_json()["items"]] == [world["factory"].id]


# --- a JSON visit is checked as JSON (issue 20, point 3) ------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"summary": {"a": [1, 2]}}, "summary"),
        ({"notes": 12.5}, "notes"),
        ({"factory_id": "1"}, "factory_id"),
        ({"factory_id": 1.0}, "factory_id"),
        ({"task_ids": "3"}, "task_ids"),
        ({"lat": "29.1", "lng": 121.2}, "lat"),
        ({"purpose": ["follow_up"]}, "purpose"),
        ({"next": 7}, "next"),
        ({"summary": None}, "summary"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_json_visit_of_the_wrong_types_is_refused_by_the_field(
    client, world, db_session, change, field
):
    body = visit_body(world["factory"], client_key="typed-key-0001", **change)
    response = call(client, world, "POST", "/api/v1/visits", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert db_session.scalar(select(func.count()).select_from(Visit)) == 0


def test_a_json_visit_keeps_its_values_as_sent(client, world, db_session):
    task = builders.task(world["factory"])
    db_session.commit()
    body = visit_body(
        world["factory"],
        client_key="typed-key-0002",
        notes="Gate code 12",
        task_ids=[task.id],
        lat=29.1,
        lng=121.2,
        accuracy_m=15,
    )
    response = call(client, world, "POST", "/api/v1/visits", json=body)
    assert response.status_code == 201, response.get_json()
    visit = db_session.get(Visit, response.get_json()["visit"]["id"])
    assert visit.notes == "Gate code 12" and [t.id for t in visit.tasks] == [task.id]


# --- one answer per kind of refusal (issue 20, point 4) -------------------------------------


@pytest.mark.parametrize("body", ["null", "[]", "[1, 2]", '"text"', "5", "true"])
def test_a_body_that_is_json_but_no_object_is_422_naming_the_body(client, world, body):
    for path in ("/api/v1/factories", "/api/v1/visits"):
        response = call(
            client, world, "POST", path, data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (path, body)
        assert response.get_json()["error"]["fields"] == {"body": "Send a JSON object."}


def test_evidence_on_a_closed_item_is_a_conflict_as_for_the_tasks_operation(client, world):
    task = builders.task(world["factory"])
    db.session.commit()
    done = call(client, world, "PATCH", f"/api/v1/tasks/{task.id}", json={"status": "done"})
    assert done.status_code == 200
    again = call(client, world, "PATCH", f"/api/v1/tasks/{task.id}", json={"status": "done"})
    assert again.status_code == 409
    evidence = call(
        client,
        world,
        "POST",
        f"/api/v1/tasks/{task.id}/evidence",
        who="factory",
        json={"link": "https://video.example/1"},
    )
    assert evidence.status_code == 409
    assert evidence.get_json()["error"]["code"] == "conflict"
