"""Files written under the storage root during a save: kept if it commits, deleted if it does not.

A visit's photos and voice note are written before the request commits (the rows name them).
When the commit itself fails (the database went away: the answer is a 503 and the phone sends
again) or the transaction is rolled back for any other reason, the files of that attempt would
be left under the storage root with no row naming them. So each write is noted on the session,
and the session's end decides: a commit keeps them, any other end deletes them.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from crm.extensions import db

PENDING = "stored_files_pending"


def written(*paths: Path) -> None:
    """Note files just written for the current transaction of the app's session."""
    db.session.info.setdefault(PENDING, []).extend(paths)


@event.listens_for(Session, "after_commit")
def _kept(session: Session) -> None:
    session.info.pop(PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _discard_unsaved(session: Session, transaction: SessionTransaction) -> None:
    # Runs after after_commit for a committed transaction, so only uncommitted files remain.
    if transaction.parent is None:
        for path in session.info.pop(PENDING, []):
            path.unlink(missing_ok=True)
