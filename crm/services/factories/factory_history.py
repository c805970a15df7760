"""A factory's history: every audited change to the factory and the records it holds (stage
changes, tasks, visits, figures, follow-ups, contacts), newest first, in keyset pages. The
caller has fetched the factory through its scope; entries past retention are gone already and
erased personal fields read as erased."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm.extensions import db
from crm.models import AuditEntry, Factory
from crm.services.install import audit_log

PAGE_SIZE = 30


def page(
    factory: Factory, after: audit_log.Cursor | None = None, size: int = PAGE_SIZE
) -> tuple[list[AuditEntry], audit_log.Cursor | None]:
    """One page of the factory's entries after the cursor, and the next page's cursor."""
    statement = select(AuditEntry).where(AuditEntry.factory_id == factory.id)
    rows = list(
        db.session.scalars(
            audit_log.newest_first(statement, after)
            .options(joinedload(AuditEntry.actor))
            .limit(size + 1)
        )
    )
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].at, rows[-1].id) if more and rows else None
