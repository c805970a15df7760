"""Counting the SQL statements of a request, and telling the fixed ones from the page's own.

A signed-in request pays a fixed set of statements whatever its page shows: who is signed in
and with which second factor (the user loader, a bearer token, the permission and enrolment
gates), the layout's unread count, the bookkeeping written after the answer ("last seen",
"last used"), and what every page reads of the install (settings, stages, metrics, belts:
crm.cache and its readers). A statement is fixed when one of those is on its call stack.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

CRM = Path(__file__).resolve().parents[1] / "crm"

# (file under crm/, function); None: any function of the file.
SHARED: frozenset[tuple[str, str | None]] = frozenset(
    {
        ("views/auth.py", "load_user_from_session"),
        ("views/auth.py", "_write_bookkeeping"),
        ("views/api/__init__.py", "_load_bearer_user"),
        ("views/api/__init__.py", "_rate_limit"),  # the rate limit asks who calls, first
        ("views/api/__init__.py", "_rate_key"),
        ("views/security.py", "gate"),
        ("views/two_factor.py", "enrolment_gate"),
        ("views/inbox.py", "inbox_unread"),
        ("views/templating.py", None),
        ("views/kept.py", None),
        ("cache.py", None),
        ("scope.py", "_rep_reach"),
        ("scope.py", "_led_belts"),
        ("services/install/settings.py", "get"),
        ("services/growth/snapshots.py", "metric_catalogue"),
        ("services/factories/factory_list.py", "cadences"),
    }
)
# Statements that only steer a transaction: no round trip of their own worth counting here.
CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "PRAGMA", "SET ")


@dataclass
class Statement:
    sql: str
    shared_by: str | None  # the shared function on its stack, or None: the page's own

    def __str__(self) -> str:
        return f"[{self.shared_by or 'page'}] {' '.join(self.sql.split())[:160]}"


def _shared_caller() -> str | None:
    frame = sys._getframe(2)
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(CRM):
            where = path.relative_to(CRM).as_posix()
            function = frame.f_code.co_name
            if (where, None) in SHARED or (where, function) in SHARED:
                return f"{where}:{function}"
        frame = frame.f_back
    return None


@contextmanager
def recorded() -> Iterator[list[Statement]]:
    """Every statement run inside the block (transaction control left out), with its origin."""
    statements: list[Statement] = []

    def record(_connection, _cursor, sql, *_args) -> None:
        if not sql.lstrip().upper().startswith(CONTROL):
            statements.append(Statement(sql, _shared_caller()))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def fixed(statements: list[Statement]) -> list[Statement]:
    return [statement for statement in statements if statement.shared_by]
