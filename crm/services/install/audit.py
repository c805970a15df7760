"""The audit log: who changed what, the changed fields only, personal fields marked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert

from crm.extensions import db
from crm.models import AuditEntry, User

Actor = User | str  # a user, or the name of the job acting as the system


def record(
    actor: Actor,
    record_type: str,
    record_id: int | None,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
    personal: tuple[str, ...] = (),
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if isinstance(actor, User) else None,
        actor_job=actor if isinstance(actor, str) else None,
        record_type=record_type,
        record_id=record_id,
        action=action,
        changes={
            name: [plain_value(before), plain_value(after)]
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
                name: [_plain(before), _plain(after)] for name, (before, after) in changes.items()
            },
            "personal_fields": [name for name in personal if name in changes],
        }
        for record_id, action, changes in entries
    ]
    # The table's own insert: the ORM's bulk path costs more per row than the write itself.
    for start in range(0, len(rows), BULK_ROWS):
        db.session.execute(insert(AuditEntry.__table__), rows[start : start + BULK_ROWS])


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
