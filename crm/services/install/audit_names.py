"""The names behind the ids that audit entries keep (users, belts, teams, factories), read when
the log is read: one query per kind for a whole page, never one per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from crm.extensions import db
from crm.models import AuditEntry, Belt, Factory, Team, User

# The fields of `changes` that hold ids, by the kind of record they name.
USER_FIELDS = frozenset(
    {
        "owner_id",
        "assignee_id",
        "user_id",
        "rep_id",
        "rep_ids",
        "manager_ids",
        "entered_by_id",
        "stand_in_id",
        "actor_id",
        "requested_by_id",
        "decided_by_id",
        "created_by_id",
        "credit_code_override_by_id",
    }
)
BELT_FIELDS = frozenset({"belt_id", "belt_ids"})
TEAM_FIELDS = frozenset({"team_id", "team_ids"})
FACTORY_FIELDS = frozenset({"factory_id"})


@dataclass
class Names:
    users: dict[int, str] = field(default_factory=dict)
    belts: dict[int, Belt] = field(default_factory=dict)
    teams: dict[int, str] = field(default_factory=dict)
    factories: dict[int, str] = field(default_factory=dict)


def ids_in(value: Any) -> list[int]:
    """The ids a stored value holds: a number, digits, "3,5,8", or a list of them."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [number for item in value for number in ids_in(item)]
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        if parts and all(part.isascii() and part.isdigit() and len(part) < 10 for part in parts):
            return [int(part) for part in parts]
    return []


def names_of(entries: Iterable[AuditEntry]) -> Names:
    """The names of every user, belt, team and factory that these entries name."""
    wanted: dict[str, set[int]] = {
        "users": set(),
        "belts": set(),
        "teams": set(),
        "factories": set(),
    }
    for entry in entries:
        if entry.actor_id is not None:
            wanted["users"].add(entry.actor_id)
        if entry.factory_id is not None:
            wanted["factories"].add(entry.factory_id)
        if entry.record_type == "user" and entry.record_id is not None:
            wanted["users"].add(entry.record_id)
        for name, pair in (entry.changes or {}).items():
            kind = kind_of_field(name)
            if kind is not None:
                for value in pair:
                    wanted[kind].update(ids_in(value))
    names = Names()
    if wanted["users"]:
        rows = db.session.execute(select(User.id, User.name).where(User.id.in_(wanted["users"])))
        names.users = {key: value for key, value in rows}
    if wanted["belts"]:
        belts = db.session.scalars(select(Belt).where(Belt.id.in_(wanted["belts"])))
        names.belts = {belt.id: belt for belt in belts}
    if wanted["teams"]:
        rows = db.session.execute(select(Team.id, Team.name).where(Team.id.in_(wanted["teams"])))
        names.teams = {key: value for key, value in rows}
    if wanted["factories"]:
        rows = db.session.execute(
            select(Factory.id, Factory.name).where(Factory.id.in_(wanted["factories"]))
        )
        names.factories = {key: value for key, value in rows}
    return names


def kind_of_field(name: str) -> str | None:
    if name in USER_FIELDS:
        return "users"
    if name in BELT_FIELDS:
        return "belts"
    if name in TEAM_FIELDS:
        return "teams"
    if name in FACTORY_FIELDS:
        return "factories"
    return None
