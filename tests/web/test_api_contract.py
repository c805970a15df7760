"""The OpenAPI document and the app's /api/v1 routes describe each other, both ways."""

from __future__ import annotations

import re

from crm import scope
from crm.views.api import spec as api_spec


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
