"""Every operation of /api/v1: its path, endpoint, permission, body, query and errors.

Each operation names its endpoint, so that a test can hold the list and the app's routes
against each other in both directions (tests/web/test_api_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crm.views.api.shapes import Body, Field
from crm.views.api.spec.bodies import (
    EVIDENCE,
    FACTORY_CREATE,
    FACTORY_QUERY,
    FACTORY_UPDATE,
    FOLLOW_UP_CREATE,
    FOLLOW_UP_QUERY,
    SNAPSHOT_BATCH,
    SNAPSHOT_CREATE,
    SNAPSHOT_QUERY,
    STAGE_CHANGE_CREATE,
    STAGE_CHANGE_QUERY,
    STAGE_DECISION,
    TASK_QUERY,
    TASK_UPDATE,
    VISIT_FIELDS,
    VISIT_QUERY,
)

ERROR_TEXT = {
    400: "Malformed request: the body is not JSON, or an Idempotency-Key that differs from "
    "client_key.",
    401: "No session and no working bearer token (unknown, revoked, expired, inactive user).",
    403: "The record is in the caller's scope, but the caller's role may not do this; staff "
    "get 403 on an operation only factory users have.",
    404: "No such record, or it is outside the caller's scope (the two look alike); a factory "
    "user gets 404 on an operation only staff have.",
    405: "The path has no such method; the Allow header lists those it has.",
    409: "Clashes with what is stored (the state changed, or a key reused with other content).",
    413: "The body is larger than the server takes (photos included).",
    414: "The URL (path and query) is longer than the server takes (4,094 bytes).",
    422: "Validation failed; `error.fields` names each field and why. A body that is JSON but "
    "not an object (null as much as an array) is refused here, naming `body`.",
    429: "Too many requests for this token (or user, or address); wait Retry-After seconds. "
    "The X-RateLimit-* headers say the limit, what is left and when it resets.",
    431: "A request header is larger than the server takes (8,190 bytes).",
    503: "The database or the upload store cannot be reached for a moment; nothing was changed. "
    "Send again after Retry-After seconds.",
}

# Answers any operation can give: the method, the request's size and an outage.
EVERY_OPERATION = (405, 414, 429, 431, 503)
# Answers of an operation with a body.
WITH_A_BODY = (400, 413, 422)

_RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in the window.",
    "X-RateLimit-Remaining": "Requests left in the window.",
    "X-RateLimit-Reset": "When the window resets, in seconds since 1970 (UTC).",
}
# The headers answers carry: {name: (description, required)}; success answers carry the
# rate limit's as the server sends them, errors as ERROR_HEADERS says.
RATE_LIMIT_HEADERS = {name: (text, False) for name, text in _RATE_LIMIT_HEADERS.items()}
ERROR_HEADERS = {
    405: {"Allow": ("The methods the path has.", True)},
    429: {
        "Retry-After": ("Seconds to wait before sending again.", True),
        **{name: (text, True) for name, text in _RATE_LIMIT_HEADERS.items()},
    },
    503: {"Retry-After": ("Seconds to wait before sending again.", True)},
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
    # Rules JSON Schema cannot state (the date, the record's state, the caller's belts):
    # {field: the rule}; the document lists them, and each answers 422 naming its field.
    beyond_schema: dict[str, str] = field(default_factory=dict)


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
        errors=(403, 404, 422),
        description="Pages of 50 ordered by name then id, with flags and checklist progress. "
        "With updated_since, the factories changed since a time (a sync): by update time "
        "then id, the next page from next_updated_since and next_after together. A factory "
        "that changes while the pages are read moves to the end and comes again; every other "
        "comes once. updated_at moves with every change to the factory's own fields (not with "
        "its checklist's or flags'). A change is seen once its request has committed, which "
        "can be a moment after its updated_at: start the next sync a few minutes before the "
        "last one's latest updated_at (what comes twice is unchanged).",
        beyond_schema={
            "page": "not with updated_since (its pages follow next_after)",
            "updated_since": "a time between the years 1900 and 2200",
        },
    ),
    _op(
        "post",
        "/api/v1/factories",
        "create_factory",
        "staff",
        "Create a prospect",
        F,
        ok=201,
        ok_schema="CreatedFactory",
        body=FACTORY_CREATE,
        errors=(400, 403, 404, 422),
        description="A rep who creates it owns it; managers' and admins' prospects are "
        "unowned until claimed or assigned. The answer lists its likely duplicates as a "
        "warning (a similar name once company suffixes, spaces and full-width characters are "
        "set aside, a position within 100 m): those in the caller's scope by id and name, "
        "those outside it without either. A credit code that another factory holds is refused.",
        beyond_schema={
            "belt_id": "one of the caller's belts",
            "credit_code": "its check characters (GB 32100), and no other factory has it",
        },
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
        beyond_schema={
            "belt_id": "one of the caller's belts",
            "credit_code": "its check characters (GB 32100), and no other factory has it",
            "credit_code_override_reason": "admins only, with a code that fails only its "
            "check characters",
            "lat": "lat and lng together, with the position stored",
        },
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
        beyond_schema={
            "checked_in_at": "at most 30 days before it reaches the server, and not in the future",
            "factory_id": "a factory in the caller's scope",
            "follow_up_id": "an open follow-up of that factory",
            "contact_id": "a contact of that factory",
            "task_ids": "open items of that factory",
            "next_on": "today or later",
        },
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
        beyond_schema={"due_on": "today or later"},
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
        beyond_schema={"status": "a measured item is judged from figures, never ticked"},
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
        errors=(400, 403, 404, 409, 422),
        description="Factory users only: staff get 403 here (they accept or send back evidence "
        "with PATCH /api/v1/tasks/{task_id}), as a factory user gets 404 on the staff-only "
        "operations. 409 when the item is closed already (done or waived), as for PATCH.",
        beyond_schema={"link": "a measured item takes no evidence"},
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
        beyond_schema={"value": "within the metric's range", "month": "this month or earlier"},
    ),
    _op(
        "post",
        "/api/v1/snapshots:batch",
        "create_snapshot_batch",
        "staff",
        "Enter up to 1,000 figures at once, all or none",
        S,
        ok=201,
        ok_schema="SnapshotBatchResult",
        body=SNAPSHOT_BATCH,
        errors=(400, 404, 409, 413, 422),
        description="A month of figures for many factories in one request (a data platform's "
        "push for a belt): each item as POST /api/v1/factories/{factory_id}/snapshots takes "
        "one, with its factory_id, checked by the same rule, and all stored in one transaction "
        "or none. A refusal (422) names each bad item by its place, counting from 0 "
        "(`items[3].value`); a factory outside the caller's scope is refused at its item "
        "(`items[3].factory_id`) whether it exists or not, and the same factory, metric and "
        "month sent twice at the second place. 201 when a figure is new; 200 when every item "
        "replaced its month's figure: sending the same batch again stores the same figures, so "
        "a batch whose answer was lost is safe to send again (no Idempotency-Key is needed "
        "here, as for the single figure). 409 when another request stored one of the same new "
        "figures at the same moment: send again. The items answer in the order sent. The "
        "batch is one request for the rate limit, and its body is far within the server's limit "
        "(1,000 items take 100 to 140 kB). The colon is the custom-method form of Google's API "
        "guides; the path is routed as it is, or with the colon written %3A.",
        beyond_schema={
            "items": "each item's factory in the caller's scope, its value within its metric's "
            "range, its month this month or earlier, each factory, metric and month once "
            "(named items[N].field)"
        },
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
        beyond_schema={
            "to_status": "a move the factory may make from its status",
            "to_stage": "a move the factory may make from its stage",
        },
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
ALSO_OK = {
    "api.create_visit": 200,
    "api.create_snapshot": 200,
    "api.create_snapshot_batch": 200,
}
