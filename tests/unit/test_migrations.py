"""The migrations build the schema of the models and go down and up again, on this database."""

from __future__ import annotations

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SAWarning

from crm import create_app
from crm.extensions import db
from crm.models.factory import in_models
from crm.services.install.health import head_revisions


@pytest.fixture
def scratch_url(database_url):
    """A database of its own, next to this worker's: migrations must start from nothing."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        scratch = url.set(database=url.database.replace(".sqlite3", "-migrations.sqlite3"))
        yield scratch.render_as_string(hide_password=False)
        return
    name = f"{url.database}_migrations"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _differences(engine) -> list:
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite's reflection cannot read an index on an expression (ix_factories_waiting) and
        # says so; Alembic then leaves such indexes out of the comparison on SQLite alone
        # (PostgreSQL's are compared).
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": in_models}
        )
        return compare_metadata(context, db.metadata)


def test_upgrade_downgrade_upgrade_and_models_agree(scratch_url):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=scratch_url)
    with app.app_context():
        upgrade()
        assert _differences(db.engine) == []
        tables = set(inspect(db.engine).get_table_names())
        assert {"factories", "visits", "follow_ups", "tasks", "user_sessions"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _differences(db.engine) == []
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        assert current == head_revisions()
        db.engine.dispose()


def test_one_head_only():
    assert len(head_revisions()) == 1
