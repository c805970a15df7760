"""The OpenAPI 3.1 document of /api/v1, assembled from its operations (operations.py), the
body and query declarations the API's views check requests with (bodies.py, crm.views.api.shapes)
and the schemas of its answers (schemas.py).
"""

from __future__ import annotations

from typing import Any

from crm.models.visit import CLIENT_KEY_MAX
from crm.views.api.shapes import ID_MAX, Body
from crm.views.api.spec.operations import (
    ALSO_OK,
    ERROR_HEADERS,
    ERROR_TEXT,
    EVERY_OPERATION,
    OPERATIONS,
    RATE_LIMIT_HEADERS,
    WITH_A_BODY,
    Operation,
)
from crm.views.api.spec.schemas import SCHEMAS, ref

VERSION = "1.0.0"


def _parameters(operation: Operation) -> list[dict]:
    parameters = []
    for name in _path_names(operation.path):
        parameters.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0, "maximum": ID_MAX},
            }
        )
    for name, spec in operation.query.items():
        schema = spec.schema()
        description = schema.pop("description", "")
        parameter = {"name": name, "in": "query", "required": False, "schema": schema}
        if spec.empty_means_absent:
            parameter["allowEmptyValue"] = True
        elif spec.kind == "string":
            schema["minLength"] = max(1, spec.min_length or 0)
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    if operation.endpoint == "api.create_visit":
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "The visit's key; must equal client_key when both are sent.",
                "schema": {
                    "type": "string",
                    "minLength": 8,
                    "maxLength": CLIENT_KEY_MAX,
                    "pattern": "^[A-Za-z0-9_-]+$",
                },
            }
        )
    return parameters


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


# Retry-After and the rate limit's headers are whole numbers (of seconds, or the epoch's).
_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}


def _headers(headers: dict[str, tuple[str, bool]]) -> dict:
    return {
        name: {
            "description": text,
            "required": required,
            "schema": {"type": "string"} if name == "Allow" else _DIGITS,
        }
        for name, (text, required) in headers.items()
    }


def _error(status: int) -> dict:
    error = {
        "description": ERROR_TEXT[status],
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if status in ERROR_HEADERS:
        error["headers"] = _headers(ERROR_HEADERS[status])
    return error


def _responses(operation: Operation) -> dict:
    ok_content: dict[str, Any]
    if operation.content == "text/html":
        ok_content = {"text/html": {"schema": {"type": "string"}}}
    elif operation.ok_schema:
        ok_content = {"application/json": {"schema": ref(operation.ok_schema)}}
    else:
        ok_content = {"application/json": {"schema": {"type": "object"}}}
    headers = _headers(RATE_LIMIT_HEADERS)
    responses: dict[str, Any] = {
        str(operation.ok): {"description": "Success.", "headers": headers, "content": ok_content}
    }
    if operation.endpoint in ALSO_OK:
        responses[str(ALSO_OK[operation.endpoint])] = {
            "description": "Success: the record existed already (a repeat, a replaced figure).",
            "headers": headers,
            "content": ok_content,
        }
    statuses = set(operation.errors) | set(EVERY_OPERATION)
    if operation.body is not None:
        statuses |= set(WITH_A_BODY)
    if operation.permission != "public":
        statuses.add(401)
    # The gate: a staff-only route is "not found" for a factory user, a role-only route
    # (managers', factories') is 403 for the other roles.
    if operation.permission == "staff":
        statuses.add(404)
    if operation.permission in ("manage", "factory"):
        statuses.add(403)
    if operation.query:
        statuses.add(422)
    for status in sorted(statuses):
        responses[str(status)] = _error(status)
    return responses


def _operation(operation: Operation) -> dict:
    document: dict[str, Any] = {
        "operationId": operation.endpoint.removeprefix("api."),
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": _responses(operation),
    }
    if operation.description:
        document["description"] = operation.description
    parameters = _parameters(operation)
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        content = {"application/json": {"schema": ref(operation.body.name)}}
        if operation.endpoint == "api.create_visit":
            content = {
                "multipart/form-data": {"schema": _form_schema(operation.body)},
                **content,
            }
        document["requestBody"] = {"required": True, "content": content}
    if operation.permission == "public":
        document["security"] = []
    return document


def _form_schema(body: Body) -> dict:
    schema = body.schema()
    schema["properties"] = {
        **schema["properties"],
        "photos": {"type": "array", "items": {"type": "string", "contentMediaType": "image/jpeg"}},
        "voice_note": {"type": "string", "contentMediaType": "audio/webm"},
    }
    return schema


def build() -> dict:
    """The whole document, as /api/v1/openapi.json serves it."""
    paths: dict[str, dict] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Factory Growth CRM API",
            "version": VERSION,
            "description": (
                "Factories, visits, follow-ups, checklist items, metric snapshots and stage "
                "changes, within the caller's scope: out of scope answers 404, as if the "
                "record did not exist. Times are ISO 8601 with their offset. Errors are "
                '{"error": {"code", "message", "fields"}}. Lists of factories come in pages '
                "of 50; other lists by id: pass `next_after` back as `after`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerToken": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token from the account page (My account, "
                    "API tokens). No CSRF token needed.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The app's own sign-in; changes also need the X-CSRFToken "
                    "header from GET /api/v1/session.",
                },
            },
        },
    }


def operation_for(endpoint: str) -> Operation:
    return next(operation for operation in OPERATIONS if operation.endpoint == endpoint)
