"""The OpenAPI 3.1 document of /api/v1, assembled from its operations (operations.py), the
body and query declarations the API's views check requests with (bodies.py, crm.views.api.shapes)
and the schemas of its answers (schemas.py).
"""

from __future__ import annotations

from typing import Any

from crm.views.api.shapes import ID_MAX, Body
from crm.views.api.spec import examples
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
from crm.views.api.spec.schemas import all_schemas, ref

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
    return parameters


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


_ERROR_EXAMPLE = {
    "error": {
        "code": "validation_error",
        "message": "Correct the fields named.",
        "fields": {"due_on": "Pick today or a later date."},
    }
}

# Where each record's id goes in the operations that read or change it; the links from an
# answer that holds such a record (a create's, a page's first item) follow them.
RECORD_IDS = {
    "Factory": "factory_id",
    "FactoryRow": "factory_id",
    "Visit": "visit_id",
    "FollowUp": "follow_up_id",
    "Task": "task_id",
    "StageChange": "change_id",
}
# Answers that hold their record further in: {schema: (record, JSON pointer to it)}.
HOLDERS = {
    "VisitOutcome": ("Visit", "/visit"),
    **{f"{name}Page": (name, "/items/0") for name in ("Visit", "FollowUp", "Task", "StageChange")},
    "FactoryPage": ("FactoryRow", "/items/0"),
    "CreatedFactory": ("Factory", ""),
    "Snapshot": ("Snapshot", ""),
}


def _links(operation: Operation) -> dict:
    """OpenAPI links from this answer's record to each operation that takes its id or its
    factory's id in the path (a created visit to its factory, a follow-up to its update)."""
    record, pointer = HOLDERS.get(operation.ok_schema or "", (operation.ok_schema, ""))
    if record is None:
        return {}
    sources = {}
    if record in RECORD_IDS:
        sources[RECORD_IDS[record]] = f"$response.body#{pointer}/id"
    if RECORD_IDS.get(record) != "factory_id" and record in _WITH_FACTORY:
        sources["factory_id"] = f"$response.body#{pointer}/factory_id"
    links = {}
    for target in OPERATIONS:
        names = _path_names(target.path)
        if target is operation or len(names) != 1 or names[0] not in sources:
            continue
        links[target.endpoint.removeprefix("api.")] = {
            "operationId": target.endpoint.removeprefix("api."),
            "parameters": {f"path.{names[0]}": sources[names[0]]},
        }
    return links


_WITH_FACTORY = ("Visit", "FollowUp", "Task", "StageChange", "Snapshot")

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
        "content": {"application/json": {"schema": ref("Error"), "example": _ERROR_EXAMPLE}},
    }
    if status in ERROR_HEADERS:
        error["headers"] = _headers(ERROR_HEADERS[status])
    return error


def _responses(operation: Operation, schemas: dict[str, dict]) -> dict:
    ok_content: dict[str, Any]
    if operation.content == "text/html":
        ok_content = {"text/html": {"schema": {"type": "string"}}}
    elif operation.ok_schema:
        ok_content = {
            "application/json": {
                "schema": ref(operation.ok_schema),
                "example": examples.instance(ref(operation.ok_schema), schemas),
            }
        }
    else:
        ok_content = {
            "application/json": {"schema": {"type": "object"}, "example": {"openapi": "3.1.0"}}
        }
    headers = _headers(RATE_LIMIT_HEADERS)
    ok: dict[str, Any] = {"description": "Success.", "headers": headers, "content": ok_content}
    found = _links(operation)
    if found:
        ok["links"] = found
    responses: dict[str, Any] = {str(operation.ok): ok}
    if operation.endpoint in ALSO_OK:
        responses[str(ALSO_OK[operation.endpoint])] = {
            **ok,
            "description": "Success: the record existed already (a repeat, a replaced figure).",
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


def _operation(operation: Operation, schemas: dict[str, dict]) -> dict:
    document: dict[str, Any] = {
        "operationId": operation.endpoint.removeprefix("api."),
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": _responses(operation, schemas),
    }
    description = operation.description
    if operation.beyond_schema:
        rules = "; ".join(f"`{name}`: {rule}" for name, rule in operation.beyond_schema.items())
        description = (
            f"{description}\n\nChecked beyond this schema, each answering 422 with the field "
            f"named: {rules}."
        ).strip()
        document["x-checked-beyond-schema"] = list(operation.beyond_schema)
    if description:
        document["description"] = description
    parameters = _parameters(operation)
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        example = operation.body.example()
        content = {"application/json": {"schema": ref(operation.body.name), "example": example}}
        if operation.endpoint == "api.create_visit":
            content = {
                "multipart/form-data": {
                    "schema": _form_schema(operation.body),
                    "example": {name: str(value) for name, value in example.items()},
                },
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
        "photo_taken_at": {
            "type": "array",
            "items": {"type": "string", "anyOf": [{"format": "date-time"}, {"maxLength": 0}]},
            "description": "Each photo's capture time with its offset, read from the photo "
            "before it was shrunk, in the photos' order (empty for a photo with none; a photo "
            "sent without one is read for its own EXIF capture time).",
        },
    }
    return schema


def build() -> dict:
    """The whole document, as /api/v1/openapi.json serves it."""
    paths: dict[str, dict] = {}
    schemas = all_schemas()
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, schemas)
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
            "schemas": schemas,
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
