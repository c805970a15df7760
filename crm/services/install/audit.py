"""The audit log: who changed what, the changed fields only, personal fields marked."""

from __future__ import annotations

from typing import Any

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
