"""What every page reads and an admin seldom changes, kept by each process while its version holds.

The settings, the stage definitions, the metric catalogue and who reaches which belts (a rep
through their team, a manager through the teams they lead, a stand-in through a leave) are
read by nearly every request. Each app (a gunicorn worker is one) keeps them, and asks the
database only for one number a transaction: the version in `cache_versions`. Any change to
those tables sets a new version in the same transaction (a flush of their records, or a bulk
statement through the session: the events at the end of this module), so a change made by
one worker holds on the next request of every other, on every host. The user loader reads the
version in its own query (`version_column`, `note_version`): a signed-in request pays nothing
more for it.

In a request, what it reads is as of the version its first read saw (a snapshot, as SQLite's
transactions give anyway); a job's or the CLI's reads check the version each time. A
transaction that changed any of these tables reads them from the database until it ends:
its change is not yet everyone's, and may still be rolled back. What is kept are plain values
(never records of a session), the same in every thread; callers must not change them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from flask import current_app, has_request_context
from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from crm import clock
from crm.extensions import db
from crm.models import (
    Belt,
    CacheVersion,
    Leave,
    Metric,
    Setting,
    StageDefinition,
    Team,
    User,
    team_managers,
)

T = TypeVar("T")

KEY = "install"  # the one row of cache_versions
# The tables whose rows are kept; deleting a user or a team deletes leaves and leads with it.
KEPT_TABLES = frozenset(
    {"settings", "stage_definitions", "metrics", "belts", "team_managers", "leaves"}
)
KEPT_RECORDS = (Setting, StageDefinition, Metric, Belt, Leave)
CASCADING_RECORDS = (User, Team)
# On Session.info: the version this transaction read, and whether it changed kept data.
_VERSION = "crm_cache_version"
_CHANGED = "crm_cache_changed"


@dataclass(frozen=True)
class Stage:
    """A stage definition's values (crm.models.StageDefinition, without its checklist)."""

    id: int
    code: str
    position: int
    name_en: str
    name_zh: str
    description_en: str
    description_zh: str
    cadence_days: int

    def name_for(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


@dataclass(frozen=True)
class MetricInfo:
    """A metric of the catalogue (crm.models.Metric), as a value."""

    id: int
    code: str
    name_en: str
    name_zh: str
    unit: str
    direction: str
    min_value: Decimal | None
    max_value: Decimal | None

    def name_for(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


@dataclass(frozen=True)
class Reach:
    """Belts by team, the teams each manager leads, and the leaves ending on or after `since`."""

    belts_by_team: dict[int, tuple[int, ...]]
    teams_led: dict[int, tuple[int, ...]]
    leaves: tuple[tuple[int, int, date, date], ...]  # rep, stand-in, first day, last day
    since: date


# --- the version ---------------------------------------------------------------------------


def version_column():
    """The version as a scalar subquery, to read in a query the request runs anyway."""
    return (
        select(CacheVersion.version)
        .where(CacheVersion.name == KEY)
        .scalar_subquery()
        .label("cache_version")
    )


def note_version(version: int | None) -> None:
    """The version that a query of this transaction read (see version_column)."""
    session = db.session()
    if not session.info.get(_CHANGED):
        session.info[_VERSION] = version


def _version(session: Session) -> int | None:
    """The version, read once a transaction in a request (which is short); elsewhere (a job,
    the CLI) at each read, since their transactions may be long."""
    if not has_request_context():
        return session.scalar(select(version_column()))
    if _VERSION not in session.info:
        session.info[_VERSION] = session.scalar(select(version_column()))
    return session.info[_VERSION]


def version() -> int | None:
    """The version of what each process keeps, as this request reads it: a key for what is made
    from kept definitions (a form's choices). None while this transaction changes them."""
    session = db.session()
    if session.info.get(_CHANGED):
        return None
    return _version(session)


def _kept(part: str, load: Callable[[], T], valid: Callable[[T], bool] = lambda _value: True) -> T:
    """The kept value of a part, loaded again when the version moved (or `valid` says no)."""
    session = db.session()
    if session.info.get(_CHANGED):
        return load()  # this transaction's own change: not kept until it is everyone's
    version = _version(session)
    if version is None:  # no version row (a database being emptied): nothing is kept
        return load()
    store = current_app.extensions.setdefault("crm_cache", {})
    held = store.get(part)
    if held is not None and held[0] == version and valid(held[1]):
        return held[1]
    value = load()
    if not session.info.get(_CHANGED):  # loading flushed no change of this transaction's
        store[part] = (version, value)
    return value


# --- what is kept --------------------------------------------------------------------------


def settings() -> dict[str, Any]:
    """The stored settings by key (crm.services.install.settings adds the defaults)."""

    def load() -> dict[str, Any]:
        return {key: value for key, value in db.session.execute(select(Setting.key, Setting.value))}

    return _kept("settings", load)


def stages() -> dict[str, Stage]:
    """The stage definitions by code, in their order."""
    statement = select(StageDefinition).order_by(StageDefinition.position)
    return _kept("stages", lambda: _values_by_code(Stage, statement))


def metrics() -> dict[str, MetricInfo]:
    """The metric catalogue by code, in its seeded order."""
    statement = select(Metric).order_by(Metric.id)
    return _kept("metrics", lambda: _values_by_code(MetricInfo, statement))


def _values_by_code(kind: type[T], statement) -> dict[str, T]:
    """The records a statement reads as values of `kind` (a dataclass named like their columns)."""
    names = [field.name for field in fields(kind)]
    return {
        row.code: kind(**{name: getattr(row, name) for name in names})
        for row in db.session.scalars(statement)
    }


def _reach(on: date | None) -> Reach:
    """Who reaches which belts; `on`: the day whose leaves are asked for (None: none are)."""

    def load() -> Reach:
        since = on or clock.today()
        belts: dict[int, list[int]] = {}
        for belt_id, team_id in db.session.execute(select(Belt.id, Belt.team_id)):
            belts.setdefault(team_id, []).append(belt_id)
        led: dict[int, list[int]] = {}
        for team_id, user_id in db.session.execute(
            select(team_managers.c.team_id, team_managers.c.user_id)
        ):
            led.setdefault(user_id, []).append(team_id)
        leaves = db.session.execute(
            select(Leave.rep_id, Leave.stand_in_id, Leave.starts_on, Leave.ends_on).where(
                Leave.ends_on >= since
            )
        )
        return Reach(
            belts_by_team={team: tuple(ids) for team, ids in belts.items()},
            teams_led={user: tuple(teams) for user, teams in led.items()},
            leaves=tuple(tuple(row) for row in leaves),
            since=since,
        )

    # Leaves that ended before the day they were loaded are not kept: an earlier day loads again.
    return _kept("reach", load, valid=lambda reach: on is None or reach.since <= on)


def team_belts(team_id: int | None) -> list[int]:
    """The belts of a team."""
    if team_id is None:
        return []
    return list(_reach(None).belts_by_team.get(team_id, ()))


def led_belts(user_id: int) -> list[int]:
    """The belts of the teams a manager leads."""
    reach = _reach(None)
    teams = reach.teams_led.get(user_id, ())
    return [belt for team in teams for belt in reach.belts_by_team.get(team, ())]


def covered_reps(stand_in_id: int, on: date) -> list[int]:
    """The reps whose leave this rep covers on the day."""
    return [rep for rep, _last in covered_leaves(stand_in_id, on)]


def covered_leaves(stand_in_id: int, on: date) -> list[tuple[int, date]]:
    """The reps whose leave this rep covers on the day, each with their leave's last day."""
    return [
        (rep, last)
        for rep, stand_in, first, last in _reach(on).leaves
        if stand_in == stand_in_id and first <= on <= last
    ]


# --- a change sets a new version -----------------------------------------------------------


def _bump(session: Session) -> None:
    """A new version, in the transaction of the change (random: a rolled-back one never recurs)."""
    connection = session.connection()
    version = secrets.randbits(62)
    done = connection.execute(
        update(CacheVersion).where(CacheVersion.name == KEY).values(version=version)
    )
    if done.rowcount == 0:
        connection.execute(insert(CacheVersion).values(name=KEY, version=version))
    session.info[_CHANGED] = True
    session.info.pop(_VERSION, None)


def _changes_kept_data(session: Session) -> bool:
    for record in (*session.new, *session.deleted):
        if isinstance(record, KEPT_RECORDS):
            return True
    for record in session.deleted:
        if isinstance(record, CASCADING_RECORDS):
            return True
    for record in session.dirty:
        if isinstance(record, KEPT_RECORDS) and session.is_modified(record):
            return True
    # A kept link table's rows, of a record changed or new (a new manager's teams).
    for record in (*session.new, *session.dirty):
        state = db.inspect(record)
        for relationship in state.mapper.relationships:
            secondary = relationship.secondary
            if (
                secondary is not None
                and getattr(secondary, "name", None) in KEPT_TABLES
                and state.attrs[relationship.key].history.has_changes()
            ):
                return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    if _changes_kept_data(session):
        _bump(session)


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    cascading = state.is_delete and name in ("users", "teams")
    if name in KEPT_TABLES or cascading:
        _bump(state.session)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_VERSION, None)
        session.info.pop(_CHANGED, None)
