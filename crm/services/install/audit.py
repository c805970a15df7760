"""The audit log: who changed what, the changed fields only, personal fields marked, and the
factory each change belongs to (its history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from crm.extensions import db
from crm.models import (
    AuditEntry,
    Contact,
    FollowUp,
    Invitation,
    MetricSnapshot,
    StageChange,
    Task,
    User,
    Visit,
)

Actor = User | str  # a user, or the name of the job acting as the system

# Never copied into the log (DESIGN.md "audit log", issue 23): free-text notes, phone numbers,
# and where a person was. An entry still says the field changed, with this in place of the
# values; the values stay in their record, where retention and erasure reach them.
NOT_COPIED = "not_copied"
UNCOPIED_FIELDS = frozenset({"notes", "phone", "phone_digits", "contact_phone"})
# A person's position: a check-in's, a route's start (a factory's own place is not a person's).
POSITION_FIELDS = frozenset({"lat", "lng", "accuracy_m", "position_at", "start_lat", "start_lng"})
PERSON_POSITION_RECORDS = frozenset({"visit", "user", "route_plan"})


def _uncopied(record_type: str, name: str) -> bool:
    return name in UNCOPIED_FIELDS or (
        name in POSITION_FIELDS and record_type in PERSON_POSITION_RECORDS
    )


def _copied(record_type: str, name: str, before: Any, after: Any, plain) -> list[Any]:
    """A field's [before, after] as the log keeps it: the values, or NOT_COPIED for each one
    that is set, of a field whose values stay out of the log."""
    if _uncopied(record_type, name):
        return [None if value in (None, "") else NOT_COPIED for value in (before, after)]
    return [plain(before), plain(after)]


# The kinds of record that belong to a factory (besides "factory" itself): an entry about one
# carries its factory, so that the factory's history finds it.
FACTORY_RECORDS = {
    "stage_change": StageChange,
    "task": Task,
    "visit": Visit,
    "follow_up": FollowUp,
    "contact": Contact,
    "metric_snapshot": MetricSnapshot,
    "invitation": Invitation,
}


def factory_of(record_type: str, record_id: int | None) -> int | None:
    """The factory a record belongs to; the record is most often in the session already."""
    if record_id is None:
        return None
    if record_type == "factory":
        return record_id
    model = FACTORY_RECORDS.get(record_type)
    if model is None:
        return None
    with db.session.no_autoflush:
        found = db.session.get(model, record_id)
    return found.factory_id if found is not None else None


def _factories_of(record_type: str, record_ids: list[int]) -> dict[int, int]:
    """factory_of for many records of one kind: one query."""
    if record_type == "factory":
        return {record_id: record_id for record_id in record_ids}
    model = FACTORY_RECORDS.get(record_type)
    if model is None or not record_ids:
        return {}
    rows = db.session.execute(select(model.id, model.factory_id).where(model.id.in_(record_ids)))
    return {key: value for key, value in rows}


def record(
    actor: Actor,
    record_type: str,
    record_id: int | None,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
    personal: tuple[str, ...] = (),
    factory_id: int | None = None,
) -> AuditEntry:
    """`factory_id`: the factory the record belongs to, found from the record when not given."""
    entry = AuditEntry(
        actor_id=actor.id if isinstance(actor, User) else None,
        actor_job=actor if isinstance(actor, str) else None,
        record_type=record_type,
        record_id=record_id,
        factory_id=factory_id if factory_id is not None else factory_of(record_type, record_id),
        action=action,
        changes={
            name: _copied(record_type, name, before, after, plain_value)
            for name, (before, after) in (changes or {}).items()
        },
        personal_fields=[name for name in personal if name in (changes or {})],
    )
    db.session.add(entry)
    return entry


# Rows per bulk insert of `record_many`.
BULK_ROWS = 5_000


def record_many(
    actor: User,
    record_type: str,
    entries: list[tuple[int, str, dict[str, tuple[Any, Any]]]],
    at: datetime,
    personal: tuple[str, ...] = (),
) -> None:
    """`record` for many records at once, as (record id, action, changes): inserted in bulk
    (an import's rows, a batch of figures)."""
    rows = [
        {
            "at": at,
            "actor_id": actor.id,
            "actor_job": None,
            "record_type": record_type,
            "record_id": record_id,
            "action": action,
            "changes": {
                name: _copied(record_type, name, before, after, _plain)
                for name, (before, after) in changes.items()
            },
            "personal_fields": [name for name in personal if name in changes],
        }
        for record_id, action, changes in entries
    ]
    # The table's own insert: the ORM's bulk path costs more per row than the write itself.
    for start in range(0, len(rows), BULK_ROWS):
        part = rows[start : start + BULK_ROWS]
        factories = _factories_of(record_type, [row["record_id"] for row in part])
        for row in part:
            row["factory_id"] = factories.get(row["record_id"])
        db.session.execute(insert(AuditEntry.__table__), part)


def _plain(value: Any) -> Any:
    """plain_value with a fast path for the plain values that most cells are."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    return plain_value(value)


def diff(record_before: dict[str, Any], record_after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields whose value changed, as {name: (before, after)}."""
    return {
        name: (record_before.get(name), value)
        for name, value in record_after.items()
        if record_before.get(name) != value
    }


def plain_value(value: Any) -> Any:
    """A value as the audit log keeps it: JSON's own types as they are, anything else as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
