"""The one way an audit entry changes: erase its marked personal fields (of a user's entries, or
of a person erased whole: crm.services.privacy.erasure), or expire it past retention (the daily
retention job, crm.services.install.retention, calls `expire`). These two are the only
exceptions to "no one deletes or edits an audit entry", and each is audited. Everything
else in the app is refused by the ORM (crm/models/history.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Text, and_, cast, delete, func, or_, select

from crm.extensions import db
from crm.models import AuditEntry
from crm.models.history import AUDIT_RETENTION
from crm.services.install import audit, settings
from crm.services.privacy import free_text

ERASED = free_text.MARKER


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


def _about_or_naming(record_type: str, record_id: int, found: list[str]):
    """The entries about a person (with personal fields marked) or whose values name them."""
    about = and_(
        AuditEntry.record_type == record_type,
        AuditEntry.record_id == record_id,
        cast(AuditEntry.personal_fields, Text) != "[]",
    )
    words = [word for needle in found for word in free_text.spellings(needle)]
    naming = [cast(AuditEntry.changes, Text).contains(word, autoescape=True) for word in words]
    return or_(about, *naming)


def count_person(record_type: str, record_id: int, found: list[str]) -> int:
    """How many entries `erase_person` would change (at most: some may be erased already)."""
    condition = _about_or_naming(record_type, record_id, found)
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(condition)) or 0


def erase_person(record_type: str, record_id: int, found: list[str]) -> int:
    """Erase a person from the log: blank the marked personal fields of the entries about them,
    and put the marker for each exact occurrence of their name, phone or e-mail (`found`) in any
    entry's values; returns how many entries changed. Who did what, and when, stay. The erasure
    itself is audited by its caller (crm.services.privacy.erasure), with its counts."""
    statement = select(AuditEntry).where(_about_or_naming(record_type, record_id, found))
    changed = 0
    with _allowed():
        for entry in db.session.scalars(statement):
            changes = free_text.scrub(dict(entry.changes), found)
            if entry.record_type == record_type and entry.record_id == record_id:
                for name in entry.personal_fields or ():
                    if name in changes:
                        changes[name] = [ERASED, ERASED]
            if changes != entry.changes:
                entry.changes = changes
                changed += 1
        db.session.flush()
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
