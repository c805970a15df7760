"""The OpenAPI document and the app's /api/v1 routes describe each other, both ways."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import jsonschema_rs
import pytest
from sqlalchemy import select

from crm import scope
from crm.models import StageChange, Task
from crm.views import security
from crm.views.api import spec as api_spec
from tests import api_check


def _registered(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            routes.add((method.lower(), path))
    return routes


def test_every_api_route_is_described_and_every_described_route_exists(client):
    document = client.get("/api/v1/openapi.json").get_json()
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    registered = _registered(client.application)
    assert registered - described == set(), "routes missing from the document"
    assert described - registered == set(), "the document describes routes that do not exist"
    assert len(registered) >= 20


def test_each_operation_names_its_endpoint_and_permission_truthfully(app):
    for operation in api_spec.OPERATIONS:
        rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint == operation.endpoint]
        assert rules, operation.endpoint
        assert any(operation.method.upper() in (rule.methods or ()) for rule in rules)
        declared = scope.permission_of(app.view_functions, operation.endpoint)
        assert declared == operation.permission, operation.endpoint


def test_document_is_openapi_3_1_with_the_error_shape_on_every_error(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "fields"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path)
            if operation.get("security") != []:
                assert {"401", "429"} <= set(operation["responses"]), (method, path)


def test_docs_page_lists_every_operation_under_the_strict_policy(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for operation in api_spec.OPERATIONS:
        assert f'{operation.method.upper()}</code> <code class="api-path">{operation.path}' in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in page and " style=" not in page


def _responses(document) -> list[tuple[str, str, dict]]:
    return [
        (f"{method} {path}", status, response)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
    ]


def test_every_status_the_server_can_answer_is_documented_with_its_headers(client):
    document = client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert {"405", "414", "429", "431", "503"} <= statuses, (method, path)
            if "requestBody" in operation:
                assert {"400", "413", "422"} <= statuses, (method, path)
    for where, status, response in _responses(document):
        headers = response.get("headers", {})
        if status in ("429", "503"):
            assert headers["Retry-After"]["required"] is True, where
        if status == "429":
            for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
                assert headers[name]["required"] is True, where
        if status == "405":
            assert headers["Allow"]["required"] is True, where


def test_the_rate_limit_headers_sent_are_the_documented_ones(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_API_RATE_LIMIT", "1 per minute")
    document = client.get("/api/v1/openapi.json").get_json()
    refused = client.get("/api/v1/openapi.json")
    assert refused.status_code == 429
    declared = document["paths"]["/api/v1/openapi.json"]["get"]["responses"]["429"]["headers"]
    for name, header in declared.items():
        assert re.fullmatch(header["schema"]["pattern"], refused.headers[name]), name


def test_a_method_the_path_lacks_answers_405_in_the_error_shape_naming_those_it_has(client):
    response = client.delete("/api/v1/openapi.json")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_a_url_too_long_answers_414_in_the_error_shape_on_the_api_and_a_page_elsewhere(client):
    long_query = "q=" + "a" * security.REQUEST_TARGET_MAX
    response = client.get(f"/api/v1/factories?{long_query}")
    assert response.status_code == 414
    assert response.get_json()["error"]["code"] == "uri_too_long"
    page = client.get(f"/login?{long_query}")
    assert page.status_code == 414 and page.mimetype == "text/html"


def test_a_header_too_large_answers_431_in_the_error_shape_on_the_api(client):
    headers = {"X-Filler": "a" * security.HEADER_FIELD_MAX}
    response = client.get("/api/v1/session", headers=headers)
    assert response.status_code == 431
    assert response.get_json()["error"]["code"] == "headers_too_large"
    assert client.get("/login", headers=headers).status_code == 431


def test_gunicorn_leaves_the_too_long_requests_to_the_app():
    config = runpy.run_path(str(Path(__file__).parents[2] / "gunicorn.conf.py"))
    assert config["limit_request_line"] > security.REQUEST_TARGET_MAX + len("DELETE  HTTP/1.1")
    assert config["limit_request_field_size"] > security.HEADER_FIELD_MAX


def test_the_evidence_operation_says_who_is_refused_how_and_documents_the_conflict(client):
    document = client.get("/api/v1/openapi.json").get_json()
    evidence = document["paths"]["/api/v1/tasks/{task_id}/evidence"]["post"]
    assert "409" in evidence["responses"]
    assert "staff get 403" in evidence["description"]
    assert "factory user gets 404" in evidence["description"]
    factories = document["paths"]["/api/v1/factories"]["get"]
    assert "403" in factories["responses"]  # a rep's owner=<id>


# --- the document refuses what the server refuses (issue 20, "What was seen") -------------


def _validator(schema, schemas):
    """A JSON Schema 2020-12 validator of `schema`, its references read from the components."""
    text = json.dumps({**schema, "$defs": schemas}).replace("#/components/schemas/", "#/$defs/")
    return jsonschema_rs.Draft202012Validator(json.loads(text), validate_formats=True)


def _body_schema(document, name):
    return _validator(document["components"]["schemas"][name], document["components"]["schemas"])


REFUSED_BY_BOTH = [
    ("FactoryCreate", {"name": "   ", "belt_id": 1}, "name"),
    ("FactoryCreate", {"name": "", "belt_id": 1}, "name"),
    ("FactoryCreate", {"name": "A", "belt_id": 1, "shop_url": "ftp://shop.example"}, "shop_url"),
    ("FactoryCreate", {"name": "A", "belt_id": 1, "credit_code": "12"}, "credit_code"),
    ("FactoryCreate", {"name": "A", "belt_id": 1, "lat": 29.8}, "lng"),
    ("Evidence", {}, "link"),
    ("Evidence", {"link": "www.example.com"}, "link"),
    ("Evidence", {"number": "lots"}, "number"),
    ("SnapshotCreate", {"metric": "nope", "month": "2026-01-01", "value": "5"}, "metric"),
    ("SnapshotCreate", {"metric": "gmv_month", "month": "2026-01-01", "value": "5x"}, "value"),
    ("TaskUpdate", {"status": "waived"}, "reason"),
    ("StageDecision", {"approve": False}, "note"),
    ("VisitCreate", {"factory_id": 1, "purpose": "other"}, "client_key"),
    (
        "VisitCreate",
        {"factory_id": 1, "purpose": "other", "client_key": "key-000001", "next": "date"},
        "next_on",
    ),
    (
        "VisitCreate",
        {"factory_id": 1, "purpose": "other", "client_key": "key-000001", "lat": 29.8},
        "lng",
    ),
]


@pytest.fixture
def contract_world(db_session):
    """The records of tests/api_check.py's world and a bearer token of each role."""
    users = api_check.world(db_session)
    factory_id = users["factory"].factory_id
    ids = {
        "factory_id": factory_id,
        "task_id": db_session.scalar(select(Task.id).where(Task.factory_id == factory_id)),
        "change_id": db_session.scalar(select(StageChange.id)),
    }
    return ids, api_check.secrets(users)


@pytest.mark.parametrize(("name", "body", "field"), REFUSED_BY_BOTH)
def test_the_document_refuses_each_body_the_server_refuses_by_that_field(
    client, contract_world, name, body, field
):
    """The request is built from the document (its operation, its path), and the server's
    answer must agree with the document's schema: both refuse, naming the field."""
    ids, tokens = contract_world
    document = client.get("/api/v1/openapi.json").get_json()
    assert not _body_schema(document, name).is_valid(body), f"the document takes {body}"
    operation = next(op for op in api_spec.OPERATIONS if op.body and op.body.name == name)
    path, method = operation.path, operation.method
    for parameter, value in ids.items():
        path = path.replace("{" + parameter + "}", str(value))
    role = "factory" if name == "Evidence" else "manager"
    response = client.open(
        path,
        method=method.upper(),
        json=body,
        headers={"Authorization": f"Bearer {tokens[role]}"},
    )
    assert response.status_code == 422, (path, body, response.get_json())
    assert field in response.get_json()["error"]["fields"], response.get_json()


def test_an_integer_sent_as_1_0_is_the_integer_1_as_json_schema_says(app):
    from crm.views.api.shapes import parse_body
    from crm.views.api.spec import bodies

    with app.test_request_context():
        values = parse_body(bodies.FACTORY_CREATE, {"name": "Hengda", "belt_id": 1.0})
    assert values["belt_id"] == 1 and isinstance(values["belt_id"], int)


def test_every_example_is_valid_against_its_own_schema(client):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    seen = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            media = []
            if "requestBody" in operation:
                media += list(operation["requestBody"]["content"].items())
            for response in operation["responses"].values():
                media += list(response.get("content", {}).items())
            for kind, content in media:
                if kind != "application/json":
                    continue
                assert "example" in content, (method, path, kind)
                validator = _validator(content["schema"], schemas)
                errors = list(validator.iter_errors(content["example"]))
                assert not errors, (method, path, errors[0].message)
                seen += 1
    assert seen > 100


def test_each_create_links_to_the_reads_and_changes_of_what_it_made(client):
    document = client.get("/api/v1/openapi.json").get_json()

    def links(path, method, status):
        return document["paths"][path][method]["responses"][status].get("links", {})

    visit = links("/api/v1/visits", "post", "201")
    assert visit["get_factory"]["parameters"] == {
        "path.factory_id": "$response.body#/visit/factory_id"
    }
    assert "get_visit" in visit
    factory = links("/api/v1/factories", "post", "201")
    assert {"create_follow_up", "get_factory", "update_factory", "request_stage_change"} <= set(
        factory
    )
    follow_up = links("/api/v1/factories/{factory_id}/follow-ups", "post", "201")
    assert {"complete_follow_up", "cancel_follow_up"} <= set(follow_up)
    change = links("/api/v1/factories/{factory_id}/stage-changes", "post", "201")
    assert change["decide_stage_change"]["parameters"] == {"path.change_id": "$response.body#/id"}
    tasks = links("/api/v1/tasks", "get", "200")
    assert {"get_task", "update_task", "submit_evidence"} <= set(tasks)


def test_rules_beyond_json_schema_are_named_in_the_operation(client):
    document = client.get("/api/v1/openapi.json").get_json()
    follow_up = document["paths"]["/api/v1/factories/{factory_id}/follow-ups"]["post"]
    assert follow_up["x-checked-beyond-schema"] == ["due_on"]
    assert "`due_on`: today or later" in follow_up["description"]
    visit = document["paths"]["/api/v1/visits"]["post"]
    assert "checked_in_at" in visit["x-checked-beyond-schema"]
    assert "30 days" in visit["description"]


def test_an_integer_parameter_sent_as_1_0_is_the_integer_1(client, contract_world):
    ids, tokens = contract_world
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    plain = client.get(f"/api/v1/visits?factory_id={ids['factory_id']}", headers=headers)
    point = client.get(f"/api/v1/visits?factory_id={ids['factory_id']}.0", headers=headers)
    assert point.status_code == 200, point.get_json()
    assert point.get_json() == plain.get_json() and plain.get_json()["items"]
    for other in ("1.5", "1.", "1_0", "+1", "１"):
        answer = client.get(f"/api/v1/visits?factory_id={other}", headers=headers)
        assert answer.status_code == 422, other
