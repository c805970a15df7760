"""Readiness: the database answers, its schema is at the migrations' head, and the upload store
(a folder or a bucket) answers."""

from __future__ import annotations

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from crm.extensions import MIGRATIONS, db
from crm.services import storage


def head_revisions() -> set[str]:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(config).get_heads())


def readiness_problem() -> str | None:
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError:
        return "database unreachable"
    if current != head_revisions():
        return "migrations not current"
    problem = storage.store().probe()
    return f"storage {problem}" if problem else None
