"""POST /api/v1/snapshots:batch: up to 1,000 figures in one request, all or none, each refused
item named by its place; the single figure's rule, scope and answers (issue 20, point 7)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import AuditEntry, MetricSnapshot
from crm.services.accounts import api_tokens
from crm.services.growth import snapshots
from crm.values import ID_MAX
from tests import builders
from tests.statements import recorded

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
PATH = "/api/v1/snapshots:batch"
MONTHS = [date(2026, month, 1) for month in (8, 9, 10, 11, 12)]


@pytest.fixture
def world(db_session):
    with time_machine.travel(NOW, tick=True):
        team, other_team = builders.team(), builders.team()
        belt = builders.belt(team)
        rep = builders.user("rep", team_=team)
        factories = [builders.factory(belt, owner=rep) for _ in range(20)]
        other_rep = builders.user("rep", team_=other_team)
        others = builders.factory(builders.belt(other_team), owner=other_rep)
        portal_user = builders.user("factory", factory=factories[0])
        db_session.commit()
        tokens = {
            name: api_tokens.create(user, name, None).secret
            for name, user in (("rep", rep), ("factory", portal_user))
        }
        db_session.commit()
    with time_machine.travel(NOW, tick=True):
        yield {"factories": factories, "others": others, "tokens": tokens}


def send(client, world, body, who="rep", **kwargs):
    headers = {"Authorization": f"Bearer {world['tokens'][who]}"}
    return client.post(PATH, json=body, headers=headers, **kwargs)


def thousand(world) -> list[dict]:
    """A thousand figures: 20 factories, every metric of the catalogue, five months."""
    metrics = list(snapshots.metric_catalogue())
    items = [
        {"factory_id": factory.id, "metric": metric, "month": month.isoformat(), "value": "3"}
        for factory in world["factories"]
        for metric in metrics
        for month in MONTHS
    ]
    assert len(items) == 1000
    return items


def stored() -> int:
    return db.session.scalar(select(func.count()).select_from(MetricSnapshot))


def test_a_thousand_figures_are_stored_in_one_request_and_answer_in_order(client, world):
    items = thousand(world)
    response = send(client, world, {"items": items})
    assert response.status_code == 201
    answer = response.get_json()
    assert (answer["created"], answer["replaced"]) == (1000, 0)
    assert [(item["factory_id"], item["metric"], item["month"]) for item in answer["items"]] == [
        (item["factory_id"], item["metric"], item["month"]) for item in items
    ]
    assert stored() == 1000


def test_sending_the_same_batch_again_stores_the_same_figures_and_answers_200(client, world):
    items = thousand(world)[:50]
    first = send(client, world, {"items": items})
    again = send(client, world, {"items": items})
    assert (first.status_code, again.status_code) == (201, 200)
    assert (again.get_json()["created"], again.get_json()["replaced"]) == (0, 50)
    assert [item["id"] for item in again.get_json()["items"]] == [
        item["id"] for item in first.get_json()["items"]
    ]
    assert stored() == 50
    changed = [{**item, "value": "4.5"} for item in items[:2]] + items[2:]
    mixed = send(client, world, {"items": [*changed, {**items[0], "month": "2026-07-01"}]})
    assert mixed.status_code == 201 and mixed.get_json()["created"] == 1
    assert [item["value"] for item in mixed.get_json()["items"][:3]] == ["4.5", "4.5", "3"]
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.record_type == "metric_snapshot")
    ).all()
    assert actions.count("create") == 51 and actions.count("replace") == 100


def test_one_bad_item_of_a_thousand_stores_nothing_and_is_named_by_its_place(client, world):
    items = thousand(world)
    items[499] = {**items[499], "value": "-1"}
    response = send(client, world, {"items": items})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["items[499].value"]
    assert "0" in error["fields"]["items[499].value"]
    assert stored() == 0


def test_each_items_shape_is_named_by_its_place_and_field(client, world):
    items = thousand(world)[:10]
    items[1] = {**items[1], "value": True}
    items[2] = {**items[2], "colour": "red"}
    items[3] = {key: value for key, value in items[3].items() if key != "metric"}
    items[4] = "not an object"
    items[5] = {**items[5], "month": "2026-13-01"}
    items[6] = {**items[6], "metric": "no_such_metric"}
    items[7] = {**items[7], "month": "2027-01-01"}
    items[8] = {**items[8], "factory_id": 0}
    response = send(client, world, {"items": items})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {
        "items[1].value",
        "items[2].colour",
        "items[3].metric",
        "items[4]",
        "items[5].month",
        "items[6].metric",  # the catalogue's codes are the declaration's enum: a shape
        "items[8].factory_id",
    }
    # The shape comes first; with the shapes right, the rule names its items the same way.
    items = [items[0], items[7]]
    rules = send(client, world, {"items": items}).get_json()["error"]["fields"]
    assert set(rules) == {"items[1].month"}
    assert stored() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": {"factory_id": 1}},
        {"items": "all"},
        {"items": None},
        {},
    ],
)
def test_an_empty_list_or_none_is_refused_naming_items(client, world, body):
    response = send(client, world, body)
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["items"]


def test_more_than_a_thousand_items_are_refused_naming_items_alone(client, world):
    items = thousand(world)
    response = send(client, world, {"items": [*items, items[0]]})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert list(fields) == ["items"] and "1,000" in fields["items"]
    assert stored() == 0


def test_a_factory_out_of_scope_refuses_the_batch_as_if_it_did_not_exist(client, world):
    items = thousand(world)[:5]
    items[1] = {**items[1], "factory_id": world["others"].id}
    items[3] = {**items[3], "factory_id": ID_MAX}  # no such factory
    response = send(client, world, {"items": items})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"items[1].factory_id", "items[3].factory_id"}
    assert fields["items[1].factory_id"] == fields["items[3].factory_id"]
    assert world["others"].name not in response.get_data(as_text=True)
    assert stored() == 0


def test_a_factory_user_gets_not_found_as_on_every_staff_operation(client, world):
    response = send(client, world, {"items": thousand(world)[:1]}, who="factory")
    assert response.status_code == 404
    assert stored() == 0


def test_the_same_figure_twice_in_a_batch_is_refused_at_its_second_place(client, world):
    items = thousand(world)[:3]
    twice = {**items[0], "month": "2026-08-17", "value": "9"}  # the same month, another day
    response = send(client, world, {"items": [*items, twice]})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert list(fields) == ["items[3].month"] and "0" in fields["items[3].month"]
    assert stored() == 0


def test_a_figure_stored_by_another_request_meanwhile_answers_409(client, world, monkeypatch):
    items = thousand(world)[:3]
    assert send(client, world, {"items": items[:1]}).status_code == 201
    # Another request's insert lands between this one's read of the stored figures and its own.
    monkeypatch.setattr(snapshots, "_stored", lambda figures: {})
    response = send(client, world, {"items": items})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"
    assert stored() == 1


def test_a_batch_is_one_request_for_the_rate_limit(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_API_RATE_LIMIT", "1 per minute")
    items = thousand(world)
    assert send(client, world, {"items": items}).status_code == 201
    refused = send(client, world, {"items": items[:1]})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert stored() == 1000


def test_a_thousand_items_of_the_largest_shape_fit_and_a_larger_body_answers_413(
    app, client, world, monkeypatch
):
    largest = {
        "factory_id": ID_MAX,
        "metric": "m" * 40,
        "month": "2026-12-31",
        "value": "-999999999999.9999",
    }
    body = json.dumps({"items": [largest] * 1000}).encode()
    assert len(body) * 10 < app.config["MAX_CONTENT_LENGTH"]
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", len(body) - 1)
    headers = {"Authorization": f"Bearer {world['tokens']['rep']}"}
    response = client.post(PATH, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert stored() == 0


def test_a_batch_costs_the_same_statements_at_ten_items_as_at_nine_hundred(client, world):
    items = thousand(world)
    # Fifty items a factory: the first factory's ten, and eighteen factories' 900 after it.
    send(client, world, {"items": items[950:951]})  # the caches warmed
    with recorded() as small:
        assert send(client, world, {"items": items[:10]}).status_code == 201
    with recorded() as large:
        assert send(client, world, {"items": items[50:950]}).status_code == 201
    assert len(large) == len(small), "\n".join(map(str, large))
    with recorded() as again:  # every figure replaced
        assert send(client, world, {"items": items[50:950]}).status_code == 200
    assert len(again) <= len(small), "\n".join(map(str, again))


def test_the_document_describes_the_batch_and_its_answers(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"][PATH]["post"]
    assert {"200", "201", "400", "401", "404", "409", "413", "422", "429"} <= set(
        operation["responses"]
    )
    body = document["components"]["schemas"]["SnapshotBatch"]
    items = body["properties"]["items"]
    assert (items["minItems"], items["maxItems"]) == (1, 1000)
    assert items["items"] == {"$ref": "#/components/schemas/SnapshotBatchItem"}
    item = document["components"]["schemas"]["SnapshotBatchItem"]
    assert set(item["required"]) == {"factory_id", "metric", "month", "value"}
