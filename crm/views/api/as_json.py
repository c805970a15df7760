"""The API's records as JSON (times ISO 8601 with their zone) and its keyset pages.

What a factory user may read is cut here too: a task as the portal shows it, never a
staff-only field (DESIGN.md "What a factory user never sees").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import url_for
from sqlalchemy import Select

from crm import clock
from crm.extensions import db
from crm.models import Factory, FollowUp, MetricSnapshot, StageChange, Task, User, Visit
from crm.services.factories.factory_list import FactoryList
from crm.services.factories.list_rows import Owner, RecordRow
from crm.services.trust.duplicates import Duplicate, describe

PAGE_LIMIT_DEFAULT = 50
PAGE_LIMIT_MAX = 200


def instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def decimal(value: Decimal | None) -> str | None:
    """A decimal as text, so that no figure loses digits on the way ("72.5")."""
    return None if value is None else f"{value.normalize():f}"


def person(user: User | Owner | None) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.name}


# --- keyset pages --------------------------------------------------------------------------


@dataclass
class Page:
    items: list[Any]
    next_after: int | None


def keyset(statement: Select, column, after: int | None, limit: int | None) -> Page:
    """Rows after an id, by id: a page stays stable while rows are added behind it."""
    limit = min(max(limit or PAGE_LIMIT_DEFAULT, 1), PAGE_LIMIT_MAX)
    if after:
        statement = statement.where(column > after)
    rows = list(db.session.scalars(statement.order_by(column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_after=rows[-1].id if more else None)


def listed(statement: Select, id_column, query: dict, narrowing: dict) -> Page:
    """One page of a scoped list, narrowed by the query's equality filters
    ({query name: column}), by id."""
    for name, column in narrowing.items():
        if name in query:
            statement = statement.where(column == query[name])
    return keyset(statement, id_column, query.get("after"), query.get("limit"))


def page_json(page: Page, serialise) -> dict:
    return {"items": [serialise(item) for item in page.items], "next_after": page.next_after}


# --- records -------------------------------------------------------------------------------


def duplicate_json(duplicate: Duplicate) -> dict:
    """A likely duplicate as a warning: outside the caller's scope, neither id nor name."""
    factory = duplicate.factory
    return {
        "factory_id": factory.id if factory else None,
        "name": factory.name if factory else None,
        "outside_scope": factory is None,
        "reasons": list(duplicate.reasons),
        "distance_m": round(duplicate.distance_m, 1) if duplicate.distance_m is not None else None,
        "message": describe(duplicate),
    }


def factory_json(factory: Factory | RecordRow) -> dict:
    belt = factory.belt
    return {
        "id": factory.id,
        "name": factory.name,
        "credit_code": factory.credit_code,
        "credit_code_override_reason": factory.credit_code_override_reason,
        "belt": {
            "id": belt.id,
            "code": belt.code,
            "name_en": belt.name_en,
            "name_zh": belt.name_zh,
        },
        "category": factory.category or "",
        "address": factory.address or "",
        "lat": factory.lat,
        "lng": factory.lng,
        "shop_url": factory.shop_url or "",
        "is_key_account": bool(factory.is_key_account),
        "owner": person(factory.owner),
        "status": factory.status,
        "stage": factory.stage,
        "stage_entered_at": instant(factory.stage_entered_at),
        "last_visit_at": instant(factory.last_visit_at),
        "next_follow_up_at": instant(factory.next_follow_up_at),
        "eligible_since": instant(factory.eligible_since),
        "created_at": instant(factory.created_at),
        "updated_at": instant(factory.updated_at),
    }


def factory_list_json(listing: FactoryList) -> dict:
    items = []
    for row in listing.rows:
        item = factory_json(row.factory)
        item["flags"] = {"stale": row.stale, "overdue": row.overdue, "eligible": row.eligible}
        item["required_done"], item["required_total"] = row.required_done, row.required_total
        items.append(item)
    return {
        "items": items,
        "page": listing.filters.page,
        # Past the counted rows the total and pages are not known: null, and "many" true.
        "pages": listing.pages,
        "total": listing.total,
        "many": listing.many,
        "next_after": listing.rows[-1].factory.id if listing.has_next else None,
        # The sync's cursor carries the time too (a factory that changes meanwhile moves on).
        "next_updated_since": (
            instant(listing.rows[-1].factory.updated_at)
            if listing.has_next and listing.filters.updated_since is not None
            else None
        ),
    }


def visit_json(visit: Visit) -> dict:
    return {
        "id": visit.id,
        "factory_id": visit.factory_id,
        "rep": person(visit.rep),
        "client_key": visit.client_key,
        "purpose": visit.purpose,
        "checked_in_at": visit.checked_in_at.isoformat(),
        "received_at": visit.received_at.isoformat(),
        "off_site": visit.off_site,
        "position_withheld": visit.position_withheld,
        "distance_m": visit.distance_m,
        "accuracy_m": visit.accuracy_m,
        "summary": visit.summary or "",
        "notes": visit.notes or "",
        "contact_id": visit.contact_id,
        "task_ids": sorted(task.id for task in visit.tasks),
        "photos": len(visit.photos),
        "url": url_for("factories.show", factory_id=visit.factory_id, _anchor="visits"),
        "checked_in_local": clock.local(visit.checked_in_at).isoformat(timespec="minutes"),
    }


def follow_up_json(follow_up: FollowUp) -> dict:
    return {
        "id": follow_up.id,
        "factory_id": follow_up.factory_id,
        "assignee": person(follow_up.assignee),
        "due_at": instant(follow_up.due_at),
        "reason": follow_up.reason or "",
        "origin": follow_up.origin,
        "status": follow_up.status,
        "completed_at": instant(follow_up.completed_at),
        "completed_by_visit_id": follow_up.completed_by_visit_id,
        "created_at": instant(follow_up.created_at),
    }


def task_json(task: Task, viewer: User) -> dict:
    """A checklist item; the factory's own user sees what the portal shows, nothing of staff's."""
    item = {
        "id": task.id,
        "factory_id": task.factory_id,
        "stage": task.stage,
        "title_en": task.title_en,
        "title_zh": task.title_zh,
        "kind": task.kind,
        "required": bool(task.required),
        "metric_code": task.metric_code,
        "comparison": task.comparison,
        "target_value": decimal(task.target_value),
        "due_on": day(task.due_on),
        "status": task.status,
        "evidence_link": task.evidence_link,
        "evidence_number": decimal(task.evidence_number),
        "evidence_note": task.evidence_note,
        "has_evidence_photo": task.evidence_file is not None,
        "send_back_reason": task.send_back_reason,
        "shoot_on": day(task.shoot_on),
        "video_url": task.video_url,
        "completed_at": instant(task.completed_at),
        "updated_at": instant(task.updated_at),
    }
    if viewer.role != "factory":
        item["owner"] = person(task.owner)
        item["waive_reason"] = task.waive_reason
        item["verified_by"] = person(task.verified_by)
        item["verified_at"] = instant(task.verified_at)
    return item


def snapshot_json(snapshot: MetricSnapshot) -> dict:
    return {
        "id": snapshot.id,
        "factory_id": snapshot.factory_id,
        "metric": snapshot.metric_code,
        "month": day(snapshot.month),
        "value": decimal(snapshot.value),
        "entered_by_id": snapshot.entered_by_id,
        "entered_at": instant(snapshot.entered_at),
    }


def stage_change_json(change: StageChange) -> dict:
    return {
        "id": change.id,
        "factory_id": change.factory_id,
        "from_status": change.from_status,
        "from_stage": change.from_stage,
        "to_status": change.to_status,
        "to_stage": change.to_stage,
        "requested_by": person(change.requested_by),
        "requested_at": instant(change.requested_at),
        "decision": change.decision,
        "decided_by": person(change.decided_by),
        "decided_at": instant(change.decided_at),
        "reason": change.reason or "",
        "decision_note": change.decision_note or "",
        "is_override": bool(change.is_override),
    }
