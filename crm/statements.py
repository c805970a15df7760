"""Statements built once per process and kept, their changing values bound at each execution.

Building a large statement and working out its cache key cost SQLAlchemy more than the database
takes to run it: the board's cards, a union of a column's ids each, took 4 ms of Python a page
and 1 ms of SQLite. A kept statement is built the first time its key is asked for; what it
depends on that changes from one request to the next (the time, and the instants reckoned
from it) is not written into it but named, bound when it runs (`bound_time`, `time_values`);
everything else it depends on is in its key (the scope's own key, crm.scope.statement_key, and
the filters). A process keeps at most KEPT of them (each a few KB), then begins again.

A statement that depends on nothing but its arguments (a factory's visits, the factory bound)
is built by a function marked `once`: one per process and set of arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import bindparam
from sqlalchemy.sql.elements import BindParameter

from crm.models.types import UTCDateTime

T = TypeVar("T")

KEPT = 500
_kept: dict[Hashable, object] = {}


def kept(key: Hashable, build: Callable[[], T]) -> T:
    """The statement kept under `key`, built by `build` the first time it is asked for."""
    found = _kept.get(key)
    if found is None:
        found = build()
        if len(_kept) >= KEPT:  # keys of filters and scopes gone by: begin again
            _kept.clear()
        _kept[key] = found
    return found  # type: ignore[return-value]


def once(build: Callable[..., T]) -> Callable[..., T]:
    """A statement builder called once per process for each set of its arguments: what changes
    from one request to the next is bound when the statement runs, never an argument."""
    built = functools.cache(build)
    _builders.append(built)
    return built


_builders: list = []


def forget() -> None:
    """Drop every kept statement (a test that counts how many are built)."""
    _kept.clear()
    for built in _builders:
        built.cache_clear()


def _instant(name: str) -> BindParameter:
    return bindparam(name, type_=UTCDateTime())


# The time as a kept statement names it: now, and what is reckoned from it.
NOW = _instant("now")


def bound_thresholds(codes) -> dict[str, BindParameter]:
    """Stale thresholds by stage code (crm.services.factories.list_filters.stale_thresholds),
    named: each request binds its own."""
    return {code: _instant(f"stale_{code}") for code in codes}


def bound_since(name: str) -> BindParameter:
    """An instant reckoned back from now, named (`time_values` binds it)."""
    return _instant(f"since_{name}")


def back_from(
    now: datetime | BindParameter, name: str, span: timedelta
) -> datetime | BindParameter:
    """`span` before `now`: the instant, or where `now` is bound (a kept statement's NOW), the
    name that `time_values(..., since={name: span})` binds."""
    return bound_since(name) if isinstance(now, BindParameter) else now - span


def time_values(
    now: datetime, thresholds: dict[str, datetime], since: dict[str, timedelta] | None = None
) -> dict[str, datetime]:
    """The values a kept statement binds for the time of this request."""
    values: dict[str, datetime] = {"now": now}
    values.update((f"stale_{code}", instant) for code, instant in thresholds.items())
    values.update((f"since_{name}", now - span) for name, span in (since or {}).items())
    return values
