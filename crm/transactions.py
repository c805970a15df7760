"""How transactions meet SQLite: work that will write takes the write lock when it begins.

SQLite lets many read but one write at a time. A deferred BEGIN that reads and then writes
cannot wait for the lock: once another connection has written since its read began (or
holds the lock), SQLite answers "database is locked" at once, whatever the busy timeout
(the 503s on `POST /login` while the scheduler caught up). So a transaction that may write
begins with BEGIN IMMEDIATE, which waits up to the busy timeout for the lock and then holds
it; one that only reads begins deferred and, in WAL mode, never waits for anyone.

Who may write: a request whose method is not GET, HEAD or OPTIONS, and whatever runs under
`writing()` (the scheduler's jobs, the work runner, `flask crm`). Bookkeeping (a session's
"last seen", a token's "last used") goes through `bookkeep` once the request's work is done:
one statement that waits for the lock only briefly and is skipped when the database is busy,
never an error for the request. Bookkeeping that must not be lost (a work request's progress
and outcome, a job run's) goes through `retrying`. PostgreSQL is left as it is: its rows
lock one by one and its transactions wait for each other by themselves.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.sql import Executable

from crm.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long a writer waits for SQLite's write lock before the database answers busy (seconds);
# CRM_SQLITE_BUSY_SECONDS sets it (crm.create_app's engine options).
BUSY_SECONDS = 10.0
# How long `bookkeep` waits for SQLite's write lock before its write is skipped (seconds).
BOOKKEEPING_WAIT = 0.1
# `retrying`: how many times, and the first pause (doubled each time), before giving up.
ATTEMPTS = 6
FIRST_PAUSE = 0.2

_writing: ContextVar[bool] = ContextVar("crm_writing", default=False)
# Set while `bookkeep` runs: its transaction begins deferred, whatever the request's method.
_bookkeeping: ContextVar[bool] = ContextVar("crm_bookkeeping", default=False)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Transactions begun in this block (outside a request) take SQLite's write lock at once."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def will_write() -> bool:
    """Whether a transaction begun now may write: a changing request, or work under writing()."""
    if _writing.get():
        return True
    if has_request_context():
        return request.method not in READING_METHODS
    return False


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY and its extended codes, such as a stale read)."""
    original = getattr(error, "orig", error)
    if not isinstance(original, sqlite3.OperationalError):
        return False
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(original)


def retrying(action: Callable[[], T], attempts: int = ATTEMPTS, pause: float = FIRST_PAUSE) -> T:
    """Run a unit of work (its own transaction, committed inside), again while the database
    is busy or out of reach; the last failure is raised.

    Each failed attempt is rolled back, so `action` must set again whatever it saves.
    Only for a unit that starts with no transaction in hand: a retry cannot redo what an
    earlier, rolled-back part of the transaction did.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except OperationalError as error:
            with contextlib.suppress(OperationalError):
                db.session.rollback()
            if attempt == attempts:
                raise
            log.warning("database busy or away (attempt %d of %d): %s", attempt, attempts, error)
            time.sleep(pause * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def bookkeep(statement: Executable) -> bool:
    """Run one small write of bookkeeping in a transaction of its own; True when it wrote a row.

    For "last seen" and "last used", once the request's work is done: the request's own
    transaction ends first (a reading one has nothing to keep, a changing one has committed or
    failed), and this one begins deferred, so that SQLite's write lock is taken by the
    statement itself and held only for it. On SQLite it waits for the lock BOOKKEEPING_WAIT
    at most; on PostgreSQL the statement itself skips a row that another transaction holds
    (crm.services.accounts.auth.seen_statement). A busy database or any other failure skips
    the write, which a later request makes again: never an error for the request.
    """
    session = db.session
    token = _bookkeeping.set(True)
    try:
        session.rollback()
        with _short_wait():
            result = session.execute(statement.execution_options(synchronize_session=False))
        session.commit()
        return bool(result.rowcount)
    except SQLAlchemyError as error:
        with contextlib.suppress(SQLAlchemyError):
            session.rollback()
        reason = "the database stayed busy" if is_busy(error) else str(error).splitlines()[0]
        log.warning("bookkeeping skipped: %s", reason)
        return False
    finally:
        _bookkeeping.reset(token)


@contextlib.contextmanager
def _short_wait() -> Iterator[None]:
    """On SQLite, the session's connection waits BOOKKEEPING_WAIT for the write lock (its own
    setting, set and put back on the driver's connection, which the next user then finds as it
    was)."""
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    before = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute(f"PRAGMA busy_timeout = {int(BOOKKEEPING_WAIT * 1000)}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(before)}")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """On SQLite: enforce foreign keys, use WAL, and let SQLAlchemy run transactions itself.

    pysqlite's own transaction handling breaks SAVEPOINT (which the tests' rollback
    fixture and nested transactions need), so it is turned off and BEGIN is emitted below.
    The busy timeout is the connection's own (sqlite3.connect's `timeout`, from the engine's
    options), so that SQLite waits that long for the write lock before answering busy.
    """
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    if connection.dialect.name == "sqlite":
        immediate = will_write() and not _bookkeeping.get()
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
