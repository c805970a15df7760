"""The one way an audit entry changes: erase its marked personal fields, or expire it past
retention (the daily retention job, crm.services.install.retention, calls `expire`). These two
are the only exceptions to "no one deletes an audit entry", and each audits itself. Everything
else in the app is refused by the ORM (crm/models/history.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from crm.extensions import db
from crm.models import AuditEntry
from crm.models.history import AUDIT_RETENTION
from crm.services.install import audit, settings

ERASED = "[erased]"


@contextmanager
def _allowed() -> Iterator[None]:
    db.session.info[AUDIT_RETENTION] = True
    try:
        yield
    finally:
        db.session.info.pop(AUDIT_RETENTION, None)


def erase_personal(actor: audit.Actor, user_id: int) -> int:
    """Blank the personal fields marked in the entries about a user (record "user"), keeping
    who did what and when; returns how many entries changed. Audited."""
    statement = select(AuditEntry).where(
        AuditEntry.record_type == "user", AuditEntry.record_id == user_id
    )
    changed = 0
    with _allowed():
        for entry in db.session.scalars(statement):
            if not entry.personal_fields:
                continue
            changes = dict(entry.changes)
            touched = False
            for name in entry.personal_fields:
                if name in changes and changes[name] != [ERASED, ERASED]:
                    changes[name] = [ERASED, ERASED]
                    touched = True
            if touched:
                entry.changes = changes
                changed += 1
        db.session.flush()
    audit.record(
        actor,
        "audit_entry",
        None,
        "erase_personal",
        {"entries": (None, changed), "user_id": (None, user_id)},
    )
    return changed


def expire(actor: audit.Actor, now: datetime, limit: int | None = None) -> int:
    """Delete the entries older than the retention setting (the oldest `limit` of them, when
    given: the retention job's batch); returns how many. Audited when any was deleted, so that a
    second run the same day writes nothing."""
    cutoff = now - timedelta(days=int(settings.get("retention_days")))
    doomed = AuditEntry.at < cutoff
    if limit is not None:
        oldest = select(AuditEntry.id).where(doomed).order_by(AuditEntry.at).limit(limit)
        doomed = AuditEntry.id.in_(oldest.scalar_subquery())
    with _allowed():
        result = db.session.execute(
            delete(AuditEntry).where(doomed).execution_options(synchronize_session="fetch")
        )
    count = result.rowcount or 0
    if count:
        audit.record(
            actor,
            "audit_entry",
            None,
            "expire",
            {"before": (None, cutoff.isoformat()), "entries": (None, count)},
        )
    return count
