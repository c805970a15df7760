"""The OpenAPI 3.1 document of /api/v1, built from the same body and query declarations that
the API's views check requests with (crm.api_schema).

Each operation names its endpoint, so that a test can hold the document and the app's
routes against each other in both directions (tests/web/test_api_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm.api_schema import ID_MAX, Body, Field
from crm.models import PURPOSES, STAGES, STATUSES
from crm.models.factory import ADDRESS_MAX, CATEGORY_MAX, FACTORY_NAME_MAX, URL_MAX
from crm.models.followup import FOLLOW_UP_STATUSES, REASON_MAX
from crm.models.history import DECISIONS
from crm.models.task import TASK_STATUSES
from crm.models.visit import CLIENT_KEY_MAX, NOTES_MAX, SUMMARY_MAX
from crm.services.factory_list import FLAGS, SEARCH_MAX
from crm.services.promotions import REASON_MAX as STAGE_REASON_MAX

VERSION = "1.0.0"

# --- request bodies ------------------------------------------------------------------------

_DETAILS = {
    "name": Field("string", "The factory's name.", max_length=FACTORY_NAME_MAX),
    "category": Field("string", "Main category.", max_length=CATEGORY_MAX),
    "address": Field("string", max_length=ADDRESS_MAX),
    "shop_url": Field("string", "The shop's web address (http or https).", max_length=URL_MAX),
    "lat": Field(
        "number", "Latitude; send lat and lng together.", nullable=True, minimum=-90, maximum=90
    ),
    "lng": Field("number", "Longitude.", nullable=True, minimum=-180, maximum=180),
    "credit_code": Field(
        "string",
        "Unified social credit code (18 characters, check digit validated).",
        nullable=True,
        max_length=40,
    ),
    "is_key_account": Field("boolean", "Managers and admins only."),
}

FACTORY_CREATE = Body(
    "FactoryCreate",
    {
        **_DETAILS,
        "name": Field("string", "The factory's name.", required=True, max_length=FACTORY_NAME_MAX),
        "belt_id": Field(
            "integer", "One of the caller's belts.", required=True, minimum=1, maximum=ID_MAX
        ),
    },
)
FACTORY_UPDATE = Body(
    "FactoryUpdate",
    {
        **_DETAILS,
        "belt_id": Field(
            "integer", "Managers and admins only: one of their belts.", minimum=1, maximum=ID_MAX
        ),
    },
    min_fields=1,
)
FOLLOW_UP_CREATE = Body(
    "FollowUpCreate",
    {
        "due_on": Field("date", "The day; it lands at 10:00 local time.", required=True),
        "reason": Field("string", max_length=REASON_MAX),
    },
)
TASK_UPDATE = Body(
    "TaskUpdate",
    {
        "status": Field(
            "string",
            "done ticks it; waived needs a reason; open reopens it, or with a reason sends "
            "handed-in evidence back to the factory.",
            required=True,
            choices=("open", "done", "waived"),
        ),
        "reason": Field("string", max_length=2000),
    },
)
EVIDENCE = Body(
    "Evidence",
    {
        "link": Field("string", "A web address (https://...).", nullable=True, max_length=URL_MAX),
        "number": Field("decimal", "A figure, such as 82.5.", nullable=True),
        "note": Field("string", nullable=True, max_length=2000),
    },
)
SNAPSHOT_CREATE = Body(
    "SnapshotCreate",
    {
        "metric": Field("string", "A metric code of the catalogue.", required=True, max_length=40),
        "month": Field("date", "Any day of the month; stored as its first day.", required=True),
        "value": Field("decimal", "In the metric's unit (percentages 0 to 100).", required=True),
    },
)
STAGE_CHANGE_CREATE = Body(
    "StageChangeRequest",
    {
        "to_status": Field("string", required=True, choices=STATUSES),
        "to_stage": Field("string", nullable=True, choices=STAGES),
        "reason": Field("string", max_length=STAGE_REASON_MAX),
    },
)
STAGE_DECISION = Body(
    "StageDecision",
    {
        "approve": Field("boolean", "true moves the factory; false refuses.", required=True),
        "note": Field("string", "Required when refusing.", max_length=STAGE_REASON_MAX),
    },
)
VISIT_FIELDS = Body(
    "VisitCreate",
    {
        "factory_id": Field("integer", required=True, minimum=1, maximum=ID_MAX),
        "client_key": Field(
            "string",
            "Made by the client; or send the Idempotency-Key header.",
            min_length=8,
            max_length=CLIENT_KEY_MAX,
        ),
        "purpose": Field("string", required=True, choices=PURPOSES),
        "summary": Field("string", "The factory sees this.", max_length=SUMMARY_MAX),
        "notes": Field("string", "Staff only.", max_length=NOTES_MAX),
        "task_ids": Field("integers", "Tasks done on this visit."),
        "follow_up_id": Field(
            "integer", "The follow-up this visit answers.", minimum=1, maximum=ID_MAX
        ),
        "contact_id": Field("integer", minimum=1, maximum=ID_MAX),
        "next": Field(
            "string",
            "Next follow-up in days, on a date, or none.",
            choices=("3", "7", "14", "date", "none"),
        ),
        "next_on": Field("date"),
        "next_reason": Field("string", max_length=300),
        "checked_in_at": Field("date-time", "The phone's time with its offset."),
        "lat": Field("number", minimum=-90, maximum=90),
        "lng": Field("number", minimum=-180, maximum=180),
        "accuracy_m": Field("number", minimum=0, maximum=100_000),
        "position_at": Field("date-time"),
    },
)

# --- query parameters ----------------------------------------------------------------------

KEYSET = {
    "after": Field(
        "integer", "Return records with an id above this one.", minimum=0, maximum=ID_MAX
    ),
    "limit": Field("integer", "Page size (default 50).", minimum=1, maximum=200),
}
FACTORY_QUERY = {
    "q": Field("string", "Name contains, or exact credit code.", max_length=SEARCH_MAX),
    "stage": Field("string", choices=STAGES),
    "status": Field("string", choices=STATUSES),
    "flag": Field("string", choices=FLAGS),
    "owner": Field(
        "string", '"mine", "unowned", or a rep\'s id (managers, admins).', max_length=20
    ),
    "page": Field("integer", "Pages of 50, by name then id.", minimum=1, maximum=1_000_000),
}
VISIT_QUERY = {"factory_id": Field("integer", minimum=1, maximum=ID_MAX), **KEYSET}
FOLLOW_UP_QUERY = {
    "factory_id": Field("integer", minimum=1, maximum=ID_MAX),
    "status": Field("string", choices=FOLLOW_UP_STATUSES),
    **KEYSET,
}
TASK_QUERY = {
    "factory_id": Field("integer", minimum=1, maximum=ID_MAX),
    "status": Field("string", choices=TASK_STATUSES),
    **KEYSET,
}
SNAPSHOT_QUERY = {
    "factory_id": Field("integer", minimum=1, maximum=ID_MAX),
    "metric": Field("string", max_length=40),
    **KEYSET,
}
STAGE_CHANGE_QUERY = {
    "factory_id": Field("integer", minimum=1, maximum=ID_MAX),
    "decision": Field("string", choices=DECISIONS),
    **KEYSET,
}

# --- response schemas ----------------------------------------------------------------------


def _t(*types: str, fmt: str | None = None) -> dict:
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else list(types)}
    if fmt:
        schema["format"] = fmt
    return schema


_STR, _INT, _NUM, _BOOL = _t("string"), _t("integer"), _t("number"), _t("boolean")
_STR_N, _INT_N, _NUM_N = _t("string", "null"), _t("integer", "null"), _t("number", "null")
_TIME, _TIME_N = _t("string", fmt="date-time"), _t("string", "null", fmt="date-time")
_DAY_N = _t("string", "null", fmt="date")
_PERSON_N = {
    "oneOf": [
        {"type": "null"},
        {"type": "object", "required": ["id", "name"], "properties": {"id": _INT, "name": _STR}},
    ]
}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


FACTORY = _object(
    {
        "id": _INT,
        "name": _STR,
        "credit_code": _STR_N,
        "belt": _object({"id": _INT, "code": _STR, "name_en": _STR, "name_zh": _STR}),
        "category": _STR,
        "address": _STR,
        "lat": _NUM_N,
        "lng": _NUM_N,
        "shop_url": _STR,
        "is_key_account": _BOOL,
        "owner": _PERSON_N,
        "status": {"type": "string", "enum": list(STATUSES)},
        "stage": {"type": ["string", "null"], "enum": [*STAGES, None]},
        "stage_entered_at": _TIME_N,
        "last_visit_at": _TIME_N,
        "next_follow_up_at": _TIME_N,
        "eligible_since": _TIME_N,
        "created_at": _TIME,
        "updated_at": _TIME,
    }
)
FACTORY_ROW = {
    "allOf": [
        _ref("Factory"),
        _object(
            {
                "flags": _object({"stale": _BOOL, "overdue": _BOOL, "eligible": _BOOL}),
                "required_done": _INT,
                "required_total": _INT,
            }
        ),
    ]
}
VISIT = _object(
    {
        "id": _INT,
        "factory_id": _INT,
        "rep": _PERSON_N,
        "client_key": _STR,
        "purpose": {"type": "string", "enum": list(PURPOSES)},
        "checked_in_at": _TIME,
        "received_at": _TIME,
        "off_site": _BOOL,
        "distance_m": _NUM_N,
        "accuracy_m": _NUM_N,
        "summary": _STR,
        "notes": _STR,
        "contact_id": _INT_N,
        "task_ids": {"type": "array", "items": _INT},
        "photos": _INT,
        "url": _STR,
        "checked_in_local": _STR,
    }
)
FOLLOW_UP = _object(
    {
        "id": _INT,
        "factory_id": _INT,
        "assignee": _PERSON_N,
        "due_at": _TIME,
        "reason": _STR,
        "origin": _STR,
        "status": {"type": "string", "enum": list(FOLLOW_UP_STATUSES)},
        "completed_at": _TIME_N,
        "completed_by_visit_id": _INT_N,
        "created_at": _TIME,
    }
)
TASK = _object(
    {
        "id": _INT,
        "factory_id": _INT,
        "stage": _STR_N,
        "title_en": _STR,
        "title_zh": _STR,
        "kind": _STR,
        "required": _BOOL,
        "metric_code": _STR_N,
        "comparison": _STR_N,
        "target_value": _STR_N,
        "due_on": _DAY_N,
        "status": {"type": "string", "enum": list(TASK_STATUSES)},
        "evidence_link": _STR_N,
        "evidence_number": _STR_N,
        "evidence_note": _STR_N,
        "has_evidence_photo": _BOOL,
        "send_back_reason": _STR_N,
        "shoot_on": _DAY_N,
        "video_url": _STR_N,
        "completed_at": _TIME_N,
        "updated_at": _TIME,
        "owner": _PERSON_N,
        "waive_reason": _STR_N,
        "verified_by": _PERSON_N,
        "verified_at": _TIME_N,
    },
    optional=("owner", "waive_reason", "verified_by", "verified_at"),
)
SNAPSHOT = _object(
    {
        "id": _INT,
        "factory_id": _INT,
        "metric": _STR,
        "month": _t("string", fmt="date"),
        "value": _STR,
        "entered_by_id": _INT_N,
        "entered_at": _TIME,
    }
)
STAGE_CHANGE = _object(
    {
        "id": _INT,
        "factory_id": _INT,
        "from_status": _STR_N,
        "from_stage": _STR_N,
        "to_status": _STR,
        "to_stage": _STR_N,
        "requested_by": _PERSON_N,
        "requested_at": _TIME,
        "decision": {"type": "string", "enum": list(DECISIONS)},
        "decided_by": _PERSON_N,
        "decided_at": _TIME_N,
        "reason": _STR,
        "decision_note": _STR,
        "is_override": _BOOL,
    }
)
ERROR = _object(
    {
        "error": _object(
            {
                "code": _STR,
                "message": _STR,
                "fields": {"type": "object", "additionalProperties": _STR},
            }
        )
    }
)


def _keyset_page(item: str) -> dict:
    return _object({"items": {"type": "array", "items": _ref(item)}, "next_after": _INT_N})


SCHEMAS: dict[str, dict] = {
    "Error": ERROR,
    "Factory": FACTORY,
    "FactoryRow": FACTORY_ROW,
    "FactoryPage": _object(
        {
            "items": {"type": "array", "items": _ref("FactoryRow")},
            "page": _INT,
            "pages": _INT,
            "total": _INT,
        }
    ),
    "Visit": VISIT,
    "VisitPage": _keyset_page("Visit"),
    "VisitOutcome": _object({"visit": _ref("Visit"), "created": _BOOL}),
    "FollowUp": FOLLOW_UP,
    "FollowUpPage": _keyset_page("FollowUp"),
    "Task": TASK,
    "TaskPage": _keyset_page("Task"),
    "Snapshot": SNAPSHOT,
    "SnapshotPage": _keyset_page("Snapshot"),
    "StageChange": STAGE_CHANGE,
    "StageChangePage": _keyset_page("StageChange"),
    "Session": _object({"user_id": _INT, "role": _STR, "csrf_token": _STR}),
}
for _body in (
    FACTORY_CREATE,
    FACTORY_UPDATE,
    FOLLOW_UP_CREATE,
    TASK_UPDATE,
    EVIDENCE,
    SNAPSHOT_CREATE,
    STAGE_CHANGE_CREATE,
    STAGE_DECISION,
    VISIT_FIELDS,
):
    SCHEMAS[_body.name] = _body.schema()

# --- operations ----------------------------------------------------------------------------

ERROR_TEXT = {
    400: "Malformed request: not JSON, or an Idempotency-Key that differs from client_key.",
    401: "No session and no working bearer token (unknown, revoked, expired, inactive user).",
    403: "The record is in the caller's scope, but the caller's role may not do this.",
    404: "No such record, or it is outside the caller's scope (the two look alike).",
    409: "Clashes with what is stored (the state changed, or a key reused with other content).",
    422: "Validation failed; `error.fields` names each field and why.",
    429: "Too many requests for this token (or user, or address); see Retry-After.",
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form: /api/v1/factories/{factory_id}
    endpoint: str
    permission: str
    summary: str
    tag: str
    ok: int = 200
    ok_schema: str | None = None
    body: Body | None = None
    query: dict[str, Field] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    description: str = ""
    content: str = "application/json"


def _op(method, path, endpoint, permission, summary, tag, **options) -> Operation:
    return Operation(method, path, f"api.{endpoint}", permission, summary, tag, **options)


F, V, FU, T, S, SC = "Factories", "Visits", "Follow-ups", "Tasks", "Snapshots", "Stage changes"
OPERATIONS: tuple[Operation, ...] = (
    _op(
        "get",
        "/api/v1/session",
        "session",
        "signed_in",
        "Who is calling, and a CSRF token",
        "Session",
        ok_schema="Session",
        description="The phone's outbox asks this before it sends; bearer callers need no "
        "CSRF token.",
    ),
    _op("get", "/api/v1/openapi.json", "openapi", "public", "This document", "Documentation"),
    _op(
        "get",
        "/api/v1/docs",
        "docs",
        "public",
        "This document as a page",
        "Documentation",
        content="text/html",
    ),
    _op(
        "get",
        "/api/v1/factories",
        "list_factories",
        "staff",
        "Factories in scope, with the list page's filters",
        F,
        ok_schema="FactoryPage",
        query=FACTORY_QUERY,
        errors=(404, 422),
        description="Pages of 50 ordered by name then id, with flags and checklist progress.",
    ),
    _op(
        "post",
        "/api/v1/factories",
        "create_factory",
        "staff",
        "Create a prospect",
        F,
        ok=201,
        ok_schema="Factory",
        body=FACTORY_CREATE,
        errors=(400, 403, 404, 422),
        description="A rep who creates it owns it; managers' and admins' prospects are "
        "unowned until claimed or assigned.",
    ),
    _op(
        "get",
        "/api/v1/factories/{factory_id}",
        "get_factory",
        "staff",
        "One factory",
        F,
        ok_schema="Factory",
        errors=(404,),
    ),
    _op(
        "patch",
        "/api/v1/factories/{factory_id}",
        "update_factory",
        "staff",
        "Change a factory's details",
        F,
        ok_schema="Factory",
        body=FACTORY_UPDATE,
        errors=(400, 403, 404, 422),
        description="Belt, credit code and the key-account flag are a manager's or admin's "
        "to change (403 for a rep who sends a different value).",
    ),
    _op(
        "get",
        "/api/v1/visits",
        "list_visits",
        "staff",
        "Visits in scope, by id",
        V,
        ok_schema="VisitPage",
        query=VISIT_QUERY,
        errors=(404, 422),
    ),
    _op(
        "post",
        "/api/v1/visits",
        "create_visit",
        "staff",
        "Log a visit exactly once",
        V,
        ok=201,
        ok_schema="VisitOutcome",
        body=VISIT_FIELDS,
        errors=(400, 404, 409, 422),
        description="201 for a new visit; 200 with the same visit when the same submission "
        "comes again under its key (Idempotency-Key header or client_key); 409 "
        "when the key was used with other content. Multipart form data carries "
        "photos and at most one voice_note (WebM, MP4 or Ogg audio, at most 2 minutes and "
        "3 MB, refused by that field otherwise); JSON carries none.",
    ),
    _op(
        "get",
        "/api/v1/visits/{visit_id}",
        "get_visit",
        "staff",
        "One visit",
        V,
        ok_schema="Visit",
        errors=(404,),
    ),
    _op(
        "get",
        "/api/v1/follow-ups",
        "list_follow_ups",
        "staff",
        "Follow-ups in scope",
        FU,
        ok_schema="FollowUpPage",
        query=FOLLOW_UP_QUERY,
        errors=(404, 422),
    ),
    _op(
        "post",
        "/api/v1/factories/{factory_id}/follow-ups",
        "create_follow_up",
        "staff",
        "Plan a follow-up",
        FU,
        ok=201,
        ok_schema="FollowUp",
        body=FOLLOW_UP_CREATE,
        errors=(400, 404, 422),
    ),
    _op(
        "post",
        "/api/v1/follow-ups/{follow_up_id}/complete",
        "complete_follow_up",
        "staff",
        "Mark a follow-up done",
        FU,
        ok_schema="FollowUp",
        errors=(404, 409),
    ),
    _op(
        "post",
        "/api/v1/follow-ups/{follow_up_id}/cancel",
        "cancel_follow_up",
        "staff",
        "Cancel a follow-up",
        FU,
        ok_schema="FollowUp",
        errors=(404, 409),
    ),
    _op(
        "get",
        "/api/v1/tasks",
        "list_tasks",
        "signed_in",
        "Checklist items in scope",
        T,
        ok_schema="TaskPage",
        query=TASK_QUERY,
        errors=(422,),
        description="A factory user sees its own factory's items, without staff-only fields.",
    ),
    _op(
        "get",
        "/api/v1/tasks/{task_id}",
        "get_task",
        "signed_in",
        "One checklist item",
        T,
        ok_schema="Task",
        errors=(404,),
    ),
    _op(
        "patch",
        "/api/v1/tasks/{task_id}",
        "update_task",
        "staff",
        "Tick, reopen, send back or waive an item",
        T,
        ok_schema="Task",
        body=TASK_UPDATE,
        errors=(400, 403, 404, 409, 422),
        description="Only a manager or admin waives a required item (403).",
    ),
    _op(
        "post",
        "/api/v1/tasks/{task_id}/evidence",
        "submit_evidence",
        "factory",
        "Hand in evidence (factory users)",
        T,
        ok_schema="Task",
        body=EVIDENCE,
        errors=(400, 403, 404, 422),
        description="Staff get 403: they accept or send back evidence with PATCH.",
    ),
    _op(
        "get",
        "/api/v1/snapshots",
        "list_snapshots",
        "staff",
        "Metric snapshots in scope",
        S,
        ok_schema="SnapshotPage",
        query=SNAPSHOT_QUERY,
        errors=(404, 422),
    ),
    _op(
        "post",
        "/api/v1/factories/{factory_id}/snapshots",
        "create_snapshot",
        "staff",
        "Enter a month's figure",
        S,
        ok=201,
        ok_schema="Snapshot",
        body=SNAPSHOT_CREATE,
        errors=(400, 404, 422),
        description="201 for a new month's figure, 200 when it replaces the month's earlier one.",
    ),
    _op(
        "get",
        "/api/v1/stage-changes",
        "list_stage_changes",
        "staff",
        "Stage and status changes in scope",
        SC,
        ok_schema="StageChangePage",
        query=STAGE_CHANGE_QUERY,
        errors=(404, 422),
    ),
    _op(
        "post",
        "/api/v1/factories/{factory_id}/stage-changes",
        "request_stage_change",
        "staff",
        "Request a promotion or status change",
        SC,
        ok=201,
        ok_schema="StageChange",
        body=STAGE_CHANGE_CREATE,
        errors=(400, 404, 409, 422),
        description="A manager or admin decides it; an override is not requested here.",
    ),
    _op(
        "post",
        "/api/v1/stage-changes/{change_id}/decision",
        "decide_stage_change",
        "manage",
        "Approve or refuse a pending request",
        SC,
        ok_schema="StageChange",
        body=STAGE_DECISION,
        errors=(400, 403, 404, 409, 422),
    ),
)

# Extra success answers of some operations (the same answer for a repeat, a replaced figure).
ALSO_OK = {"api.create_visit": 200, "api.create_snapshot": 200}


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


def _error(status: int) -> dict:
    return {
        "description": ERROR_TEXT[status],
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _responses(operation: Operation) -> dict:
    ok_content: dict[str, Any]
    if operation.content == "text/html":
        ok_content = {"text/html": {"schema": {"type": "string"}}}
    elif operation.ok_schema:
        ok_content = {"application/json": {"schema": _ref(operation.ok_schema)}}
    else:
        ok_content = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {
        str(operation.ok): {"description": "Success.", "content": ok_content}
    }
    if operation.endpoint in ALSO_OK:
        responses[str(ALSO_OK[operation.endpoint])] = {
            "description": "Success: the record existed already (a repeat, a replaced figure).",
            "content": ok_content,
        }
    statuses = set(operation.errors)
    if operation.permission != "public":
        statuses |= {401, 429}
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
        content = {"application/json": {"schema": _ref(operation.body.name)}}
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
