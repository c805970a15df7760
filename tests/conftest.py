"""Test set-up: one database per xdist worker, a rolled-back transaction per test."""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.globals import _cv_app
from flask_login import FlaskLoginClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import _app_ctx_id
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from crm import create_app
from crm.extensions import db
from crm.services import storage
from crm.services.growth import catalogue
from tests import s3server
from tests.live import empty_database, serve

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Rate limits of this run apart from every other run's in a Redis that outlives it: the one
# Limiter keeps the key prefix of the first app a process makes, whichever settings it has.
os.environ["CRM_RATELIMIT_PREFIX"] = f"crm-run-{secrets.token_hex(6)}"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def on_s3() -> bool:
    """CRM_TEST_STORAGE=s3: the app keeps its uploads in a SeaweedFS bucket (tests/s3server.py)."""
    return os.environ.get("CRM_TEST_STORAGE") == "s3"


def on_postgres() -> bool:
    return os.environ.get("CRM_TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests are deselected on SQLite, and SQLite-only ones (its write lock,
    its files) on PostgreSQL (not skipped: nothing is hidden)."""
    other = "sqlite_only" if on_postgres() else "postgres_only"
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker(other) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionfinish(session, exitstatus):
    """Under CI=true a skipped test fails the run: every promise is checked there."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI=true: {len(skipped)} skipped tests fail the run", red=True)
        session.exitstatus = 1


def worker_database_url() -> str:
    """A database of this worker's own: a SQLite file, or a PostgreSQL database made for it."""
    base = os.environ.get("CRM_TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        folder = Path(tempfile.gettempdir()) / "crm-tests"
        folder.mkdir(exist_ok=True)
        path = folder / f"{os.getpid()}-{WORKER}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = make_url(base)
    name = f"{url.database}_{re.sub(r'[^a-z0-9]', '', WORKER.lower())}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


class IsolatedClient(FlaskLoginClient):
    """A test client whose requests run in an app context of their own, as in production.

    Flask reuses an app context that is already pushed (the test's), which would share
    `g` (and Flask-Login's cached user) and the database session between the test and
    every request it makes.
    """

    def open(self, *args, **kwargs):
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture(scope="session")
def database_url() -> str:
    return worker_database_url()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[s3server.S3Server]:
    """A SeaweedFS S3 server of this worker's, for the session."""
    server = s3server.start(tmp_path_factory.mktemp("s3"))
    s3server.sign_with_the_real_clock()
    try:
        yield server
    finally:
        server.stop()


def storage_settings(request, prefix: str) -> dict[str, str]:
    """The app's upload store: a folder, or under CRM_TEST_STORAGE=s3 a prefix of the bucket."""
    if not on_s3():
        return {"CRM_STORAGE_URL": ""}
    return request.getfixturevalue("s3_server").env(prefix)


@pytest.fixture(scope="session")
def app(database_url, request):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        CRM_STORAGE_ROOT=tempfile.mkdtemp(prefix="crm-storage-"),
        **storage_settings(request, f"{WORKER}-{secrets.token_hex(4)}"),
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        # The schema comes from the migrations, as in production (this worker's database is new).
        upgrade()
        catalogue.install_defaults()
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def db_session(app) -> Iterator:
    """Every test runs inside one outer transaction that is rolled back at its end.

    Sessions join it with savepoints, so a view's commit releases a savepoint and
    the test still sees the rows; nothing reaches the database for the next test.
    """
    connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    db.session = scoped_session(factory, scopefunc=_app_ctx_id)
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        if transaction.is_active:
            transaction.rollback()
        connection.close()


@pytest.fixture
def empty_store(app, request, monkeypatch, tmp_path):
    """The app's store emptied for one test: a new folder, or a new prefix of the bucket."""
    monkeypatch.setitem(app.config, "CRM_STORAGE_ROOT", str(tmp_path / "storage"))
    for name, value in storage_settings(request, f"t-{secrets.token_hex(6)}").items():
        monkeypatch.setitem(app.config, name, value)
    with app.app_context():
        return storage.store()


@pytest.fixture
def local_store(app, monkeypatch, tmp_path):
    """A new folder as the app's store, whatever CRM_TEST_STORAGE says: for a test that ages
    files by their times (a bucket's objects keep the time they were written)."""
    monkeypatch.setitem(app.config, "CRM_STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.setitem(app.config, "CRM_STORAGE_URL", "")
    with app.app_context():
        return storage.store()


@pytest.fixture
def client(app, db_session):
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The worker's app (and database) served once per worker session; yields its base URL."""
    with serve(app) as base_url:
        yield base_url


@pytest.fixture
def live_db(app) -> Iterator:
    """The live server's database, empty but for the catalogue, before and after the test.

    The server's threads read only committed rows: build records with tests/builders.py,
    then `live_db.commit()`. Not the rolled-back `db_session`, which the server cannot see.
    """
    empty_database()
    try:
        yield db.session
    finally:
        empty_database()
        db.session.remove()
