"""What /api/v1 accepts: one declaration per request body and query, with which the API's
views check requests (crm.views.api.shapes) and from which the document describes them.
"""

from __future__ import annotations

from dataclasses import replace

from flask_babel import lazy_gettext as _l

from crm import cache
from crm.forms.visits import CLIENT_KEY_PATTERN as CLIENT_KEY
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
from crm.services.factories.list_filters import FLAGS, SEARCH_MAX
from crm.services.growth.promotions import REASON_MAX as STAGE_REASON_MAX
from crm.services.growth.snapshots import BATCH_MAX
from crm.views.api.shapes import ID_MAX, NOT_BLANK, Body, Field, When

# --- the forms a text must have (each is the check as much as the document) ------------------

# A web address as the services take it: http or https with a host; empty clears it.
WEB_ADDRESS = r"^\s*(?:[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#\[\]@\\]+(?:[/?#]\S*)?)?\s*$"
# Evidence's link: starts with https:// or http:// (as typed); empty is no link.
EVIDENCE_LINK = r"^\s*(?:https?://\S*)?\s*$"
# A unified social credit code in its normal form (the check characters are checked beyond
# this), or nothing, which clears it.
CREDIT_CODE = r"^\s*(?:[0-9A-HJ-NPQRTUWXY]{18})?\s*$"
# A figure as text: at most twelve digits before the point (a comma counts as the point).
FIGURE = r"^\s*[+-]?(?:[0-9]{1,12}(?:[.,][0-9]*)?|[.,][0-9]+)\s*%?\s*$"
FIGURE_MAX = 999_999_999_999


def _figure(description: str, **options) -> Field:
    """A figure, as a JSON number or as text (crm.services.growth.snapshots.parse_value)."""
    return Field(
        "decimal",
        f"{description} As text: at most twelve digits before the point.",
        minimum=-FIGURE_MAX,
        maximum=FIGURE_MAX,
        pattern=FIGURE,
        pattern_message=_l("Enter a number, such as 72.5."),
        **options,
    )


def metric_codes() -> tuple[str, ...]:
    """The metric catalogue's codes, as an admin keeps them."""
    return tuple(sorted(cache.metrics()))


# --- request bodies ------------------------------------------------------------------------

_DETAILS = {
    "name": Field(
        "string",
        "The factory's name.",
        min_length=1,
        max_length=FACTORY_NAME_MAX,
        pattern=NOT_BLANK,
        pattern_message=_l("Enter the factory's name."),
        example="Ningbo Hengda Kitchenware",
    ),
    "category": Field("string", "Main category.", max_length=CATEGORY_MAX, example="Kitchenware"),
    "address": Field("string", max_length=ADDRESS_MAX, example="88 Jiangnan Road, Ningbo"),
    "shop_url": Field(
        "string",
        "The shop's web address (http or https, with a host); empty clears it.",
        max_length=URL_MAX,
        pattern=WEB_ADDRESS,
        pattern_message=_l("Enter the shop's web address, starting with https:// or http://."),
        example="https://hengda.example.com/shop",
    ),
    "lat": Field(
        "number",
        "Latitude; send lat and lng together.",
        nullable=True,
        minimum=-90,
        maximum=90,
        example=29.87,
    ),
    "lng": Field("number", "Longitude.", nullable=True, minimum=-180, maximum=180, example=121.55),
    "credit_code": Field(
        "string",
        "Unified social credit code: 18 characters of 0-9 and A-Y without I, O, S, V and Z "
        "(its check characters are checked by GB 32100 beyond this pattern); empty or null "
        "clears it.",
        nullable=True,
        max_length=40,
        pattern=CREDIT_CODE,
        pattern_message=_l("A credit code has 18 characters: digits and capital letters."),
        example="91330200MA2GXXL04D",
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
        "name": replace(_DETAILS["name"], required=True),
        "belt_id": Field(
            "integer",
            "One of the caller's belts.",
            required=True,
            minimum=1,
            maximum=ID_MAX,
            example=1,
        ),
    },
    when=(When("lat", "lng"), When("lng", "lat")),
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
        "due_on": Field(
            "date",
            "The day, today or later; it lands at 10:00 local time.",
            required=True,
            example="2030-05-20",
        ),
        "reason": Field("string", max_length=REASON_MAX, example="Bring the sample contract."),
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
            example="waived",
        ),
        "reason": Field(
            "string",
            "Why it is waived (required then), or what the factory should change.",
            max_length=2000,
            example="The factory already has this certificate.",
        ),
    },
    when=(When("status", "reason", ("waived",), _l("Say why this item is waived.")),),
)
EVIDENCE = Body(
    "Evidence",
    {
        "link": Field(
            "string",
            "A web address (https:// or http://).",
            nullable=True,
            max_length=URL_MAX,
            pattern=EVIDENCE_LINK,
            pattern_message=_l("Enter a web address starting with https://"),
            example="https://hengda.example.com/certificate.pdf",
        ),
        "number": _figure("A figure, such as 82.5.", nullable=True, example="82.5"),
        "note": Field("string", nullable=True, max_length=2000, example="Certificate renewed."),
    },
    any_of=("link", "number", "note"),
)
SNAPSHOT_CREATE = Body(
    "SnapshotCreate",
    {
        "metric": Field(
            "string",
            "A metric code of the catalogue.",
            required=True,
            max_length=40,
            choices_of=metric_codes,
            example="response_3min_rate",
        ),
        "month": Field(
            "date",
            "Any day of the month, this month or earlier; stored as its first day.",
            required=True,
            example="2026-01-01",
        ),
        "value": _figure(
            "In the metric's unit, within the metric's range (percentages 0 to 100).",
            required=True,
            example="72.5",
        ),
    },
)
# A batch's item: the single create's body, with the factory that the path names there.
SNAPSHOT_ITEM = Body(
    "SnapshotBatchItem",
    {
        "factory_id": Field(
            "integer",
            "A factory in the caller's scope.",
            required=True,
            minimum=1,
            maximum=ID_MAX,
            example=1,
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
        "to_status": Field("string", required=True, choices=STATUSES, example="active"),
        "to_stage": Field("string", nullable=True, choices=STAGES, example="senior"),
        "reason": Field(
            "string", max_length=STAGE_REASON_MAX, example="Every required item is done."
        ),
    },
)
STAGE_DECISION = Body(
    "StageDecision",
    {
        "approve": Field(
            "boolean", "true moves the factory; false refuses.", required=True, example=False
        ),
        "note": Field(
            "string",
            "Required when refusing, and as the reason of an override.",
            max_length=STAGE_REASON_MAX,
            example="The response rate is below target.",
        ),
        "override": Field(
            "boolean",
            "true approves a request whose factory no longer qualifies, as an override with "
            "the note as its reason; approving one without it answers 422 naming override.",
        ),
    },
    when=(When("approve", "note", (False,), _l("Say why the request is refused.")),),
)
VISIT_FIELDS = Body(
    "VisitCreate",
    {
        "factory_id": Field("integer", required=True, minimum=1, maximum=ID_MAX, example=1),
        "client_key": Field(
            "string",
            "The visit's key, made by the client (the same key again is the same visit). An "
            "Idempotency-Key header, when sent, must carry the same key.",
            required=True,
            min_length=8,
            max_length=CLIENT_KEY_MAX,
            pattern=CLIENT_KEY,
            pattern_message=_l("Use letters, digits, - and _ only."),
            example="visit-2026-01-15-0001",
        ),
        "purpose": Field("string", required=True, choices=PURPOSES, example=PURPOSES[0]),
        "summary": Field(
            "string", "The factory sees this.", max_length=SUMMARY_MAX, example="Met the owner."
        ),
        "notes": Field("string", "Staff only.", max_length=NOTES_MAX, example="Price-sensitive."),
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
        "next_on": Field("date", "The next follow-up's day; required with next=date."),
        "next_reason": Field("string", max_length=300),
        "checked_in_at": Field("date-time", "The phone's time with its offset."),
        "lat": Field("number", "Send lat and lng together.", minimum=-90, maximum=90),
        "lng": Field("number", minimum=-180, maximum=180),
        "accuracy_m": Field("number", minimum=0, maximum=100_000),
        "position_at": Field("date-time"),
        "location_consent": Field(
            "integer",
            "The version of the location notice (/privacy) that the person agreed to on this "
            "device, sent until the server has it; a position is kept only with consent to the "
            "current version.",
            minimum=1,
            maximum=ID_MAX,
        ),
        "location_consent_at": Field("date-time", "When the person agreed, with its offset."),
    },
    when=(
        When("lat", "lng"),
        When("lng", "lat"),
        When("location_consent", "location_consent_at"),
        When("location_consent_at", "location_consent"),
        When("next", "next_on", ("date",), _l("Pick the date of the next follow-up.")),
    ),
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
