"""What /api/v1 answers: the JSON Schema of each record, page and error, by component name;
the request bodies' schemas are added from their declarations (crm.views.api.spec.bodies).
"""

from __future__ import annotations

from typing import Any

from crm.models import PURPOSES, STAGES, STATUSES
from crm.models.followup import FOLLOW_UP_STATUSES
from crm.models.history import DECISIONS
from crm.models.task import TASK_STATUSES
from crm.views.api.spec import bodies


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


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


FACTORY = _object(
    {
        "id": _INT,
        "name": _STR,
        "credit_code": _STR_N,
        "credit_code_override_reason": _STR_N,
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
# A likely duplicate named when a factory is created (crm.services.trust.duplicates): one
# outside the caller's scope has no id and no name.
DUPLICATE = _object(
    {
        "factory_id": _INT_N,
        "name": _STR_N,
        "outside_scope": _BOOL,
        "reasons": {
            "type": "array",
            "items": {"type": "string", "enum": ["credit_code", "phone", "name", "nearby"]},
        },
        "distance_m": _NUM_N,
        "message": _STR,
    }
)
CREATED_FACTORY = {
    "allOf": [
        ref("Factory"),
        _object({"duplicates": {"type": "array", "items": ref("Duplicate")}}),
    ]
}
FACTORY_ROW = {
    "allOf": [
        ref("Factory"),
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
        "position_withheld": _BOOL,
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
    return _object({"items": {"type": "array", "items": ref(item)}, "next_after": _INT_N})


SCHEMAS: dict[str, dict] = {
    "Error": ERROR,
    "Factory": FACTORY,
    "Duplicate": DUPLICATE,
    "CreatedFactory": CREATED_FACTORY,
    "FactoryRow": FACTORY_ROW,
    "FactoryPage": _object(
        {
            "items": {"type": "array", "items": ref("FactoryRow")},
            "page": _INT,
            "pages": _INT_N,
            "total": _INT_N,
            "many": _BOOL,
            "next_after": _INT_N,
            "next_updated_since": _TIME_N,
        }
    ),
    "Visit": VISIT,
    "VisitPage": _keyset_page("Visit"),
    "VisitOutcome": _object({"visit": ref("Visit"), "created": _BOOL}),
    "FollowUp": FOLLOW_UP,
    "FollowUpPage": _keyset_page("FollowUp"),
    "Task": TASK,
    "TaskPage": _keyset_page("Task"),
    "Snapshot": SNAPSHOT,
    "SnapshotPage": _keyset_page("Snapshot"),
    "SnapshotBatchResult": _object(
        {"items": {"type": "array", "items": ref("Snapshot")}, "created": _INT, "replaced": _INT}
    ),
    "StageChange": STAGE_CHANGE,
    "StageChangePage": _keyset_page("StageChange"),
    "Session": _object({"user_id": _INT, "role": _STR, "csrf_token": _STR}),
}


def all_schemas() -> dict[str, dict]:
    """Every component: the answers' and, read now, the request bodies' (a body's choices
    may come from a catalogue an admin keeps)."""
    return {**SCHEMAS, **{body.name: body.schema() for body in bodies.BODIES}}
