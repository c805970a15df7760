"""What /api/v1 accepts: one declaration per request body and query, with which the API's
views check requests (crm.views.api.shapes) and from which the document describes them.
"""

from __future__ import annotations

from crm.models import PURPOSES, STAGES, STATUSES
from crm.models.factory import (
    ADDRESS_MAX,
    CATEGORY_MAX,
    CREDIT_CODE_OVERRIDE_MAX,
    FACTORY_NAME_MAX,
    URL_MAX,
)
from crm.models.followup import FOLLOW_UP_STATUSES, REASON_MAX
from crm.models.history import DECISIONS
from crm.models.task import TASK_STATUSES
from crm.models.visit import CLIENT_KEY_MAX, NOTES_MAX, SUMMARY_MAX
from crm.services.factories.factory_list import FLAGS, SEARCH_MAX
from crm.services.growth.promotions import REASON_MAX as STAGE_REASON_MAX
from crm.services.growth.snapshots import BATCH_MAX
from crm.views.api.shapes import ID_MAX, Body, Field

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
        "Unified social credit code (18 characters, checked by every rule of GB 32100).",
        nullable=True,
        max_length=40,
    ),
    "credit_code_override_reason": Field(
        "string",
        "Admins only: why a credit code that fails only its check characters (issued before "
        "the national standard) is recorded anyway; sent with such a code.",
        nullable=True,
        max_length=CREDIT_CODE_OVERRIDE_MAX,
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
# A batch's item: the single create's body, with the factory that the path names there.
SNAPSHOT_ITEM = Body(
    "SnapshotBatchItem",
    {
        "factory_id": Field(
            "integer", "A factory in the caller's scope.", required=True, minimum=1, maximum=ID_MAX
        ),
        **SNAPSHOT_CREATE.fields,
    },
)
SNAPSHOT_BATCH = Body(
    "SnapshotBatch",
    {
        "items": Field(
            "objects",
            f"The figures, 1 to {BATCH_MAX:,}; a refused one is named by its place, counting "
            "from 0 (items[3].value).",
            required=True,
            item=SNAPSHOT_ITEM,
            min_items=1,
            max_items=BATCH_MAX,
        )
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

# Each body's schema is a component of the document, under its name.
BODIES = (
    FACTORY_CREATE,
    FACTORY_UPDATE,
    FOLLOW_UP_CREATE,
    TASK_UPDATE,
    EVIDENCE,
    SNAPSHOT_CREATE,
    SNAPSHOT_ITEM,
    SNAPSHOT_BATCH,
    STAGE_CHANGE_CREATE,
    STAGE_DECISION,
    VISIT_FIELDS,
)

# --- query parameters ----------------------------------------------------------------------

KEYSET = {
    "after": Field(
        "integer", "Return records with an id above this one.", minimum=0, maximum=ID_MAX
    ),
    "limit": Field("integer", "Page size (default 50).", minimum=1, maximum=200),
}
FACTORY_QUERY = {
    "q": Field(
        "string",
        "Name contains, or exact credit code; empty is no search.",
        max_length=SEARCH_MAX,
        empty_means_absent=True,
    ),
    "stage": Field("string", choices=STAGES),
    "status": Field("string", choices=STATUSES),
    "flag": Field("string", choices=FLAGS),
    "owner": Field(
        "string",
        '"mine", "unowned", or a rep\'s id (managers and admins; a rep sending an id gets 403).',
        max_length=20,
        words=("mine", "unowned"),
    ),
    "page": Field("integer", "Pages of 50, by name then id.", minimum=1, maximum=1_000_000),
    "after": Field(
        "integer",
        "The page after this factory (the last page's next_after); a stale one: the first. "
        "With updated_since: the last page's next_after, sent with its next_updated_since.",
        minimum=0,
        maximum=ID_MAX,
    ),
    "updated_since": Field(
        "date-time",
        "Only the factories changed at or after this time (ISO 8601 with its offset; a + is "
        "sent as %2B), in pages of 50 by update time then id, not by name; no page numbers. "
        "The next page: send the last page's next_updated_since and next_after back.",
    ),
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
