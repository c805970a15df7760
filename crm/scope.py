"""Who may see and do what: permissions, scoped queries, scoped getters (DESIGN.md "Scope").

Nothing else in the app decides visibility. Lists are built from the scoped
selects here (filtered in SQL); single records come through the getters, which
raise NotFound for anything out of scope, so "absent" and "not yours" look alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TypeVar

from flask import g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import (
    CompoundSelect,
    Select,
    and_,
    false,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.elements import ColumnElement

from crm import cache
from crm.errors import NotAllowed, NotFound
from crm.extensions import db
from crm.models import (
    Belt,
    Factory,
    FactoryMerge,
    FollowUp,
    ImportRun,
    Invitation,
    MetricSnapshot,
    StageChange,
    Task,
    User,
    Visit,
    team_managers,
)

# --- endpoint permissions -------------------------------------------------------------

# Which roles hold each permission an endpoint can declare.
PERMISSIONS: dict[str, frozenset[str]] = {
    "public": frozenset({"anonymous", "admin", "manager", "rep", "factory"}),
    "signed_in": frozenset({"admin", "manager", "rep", "factory"}),
    "staff": frozenset({"admin", "manager", "rep"}),
    # A rep's own field record, which no one else rewrites (a visit's correction).
    "rep": frozenset({"rep"}),
    "manage": frozenset({"admin", "manager"}),
    "admin": frozenset({"admin"}),
    "factory": frozenset({"factory"}),
}

# Endpoints that Flask or an extension registers, declared here rather than on a view.
BUILT_IN_PERMISSIONS = {"static": "public"}

F = TypeVar("F", bound=Callable)


def allow(permission: str) -> Callable[[F], F]:
    """Declare who may call a view; a view without a declaration is refused (deny by default)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def mark(view: F) -> F:
        view.permission = permission  # type: ignore[attr-defined]
        return view

    return mark


def permission_of(view_functions: dict, endpoint: str) -> str | None:
    if endpoint in BUILT_IN_PERMISSIONS:
        return BUILT_IN_PERMISSIONS[endpoint]
    view = view_functions.get(endpoint)
    return getattr(view, "permission", None)


def role_of(user: User | None) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    return user.role


def holds(user: User | None, permission: str) -> bool:
    return role_of(user) in PERMISSIONS[permission]


# --- actions beyond scope (DESIGN.md "Who may do what") ---------------------------------

ACTIONS: dict[str, frozenset[str]] = {
    "create_factory": frozenset({"rep", "manager", "admin"}),
    "claim_prospect": frozenset({"rep", "manager", "admin"}),
    "change_belt_or_credit_code": frozenset({"manager", "admin"}),
    # Recording a credit code that fails its check characters (issued before GB 32100).
    "override_credit_code_check": frozenset({"admin"}),
    "log_visit": frozenset({"rep", "manager", "admin"}),
    "schedule_follow_up": frozenset({"rep", "manager", "admin"}),
    "add_contact": frozenset({"rep", "manager", "admin"}),
    "enter_snapshot": frozenset({"rep", "manager", "admin"}),
    "advance_task": frozenset({"rep", "manager", "admin"}),
    "hand_in_evidence": frozenset({"factory"}),
    "waive_required_task": frozenset({"manager", "admin"}),
    "request_stage_change": frozenset({"rep", "manager", "admin"}),
    "decide_stage_change": frozenset({"manager", "admin"}),
    "review_visit": frozenset({"manager", "admin"}),
    "reassign": frozenset({"manager", "admin"}),
    "import": frozenset({"manager", "admin"}),
    "export": frozenset({"manager", "admin"}),
    "configure": frozenset({"admin"}),
    # Erasing a person's data (PIPL): irreversible, the admin's alone.
    "erase_person": frozenset({"admin"}),
}


def may(user: User, action: str) -> bool:
    return user.role in ACTIONS[action]


def require(user: User, action: str) -> None:
    """Raise NotAllowed (403) when the user's role may not take the action on an in-scope record."""
    if not may(user, action):
        raise NotAllowed(_("Your role may not do this."))


# --- scoped queries ---------------------------------------------------------------------


def led_belt_ids(user: User) -> Select:
    """The belts of the teams a manager leads."""
    return (
        select(Belt.id)
        .join(team_managers, team_managers.c.team_id == Belt.team_id)
        .where(team_managers.c.user_id == user.id)
    )


def stood_in_for(user: User, on: date) -> list[tuple[int, date]]:
    """The reps this rep stands in for on the day, each with their leave's last day: their
    factories are in this rep's scope (`factory_condition`) and their due work on this rep's
    Today (crm.services.field.followups.agenda) for the leave's days only."""
    if user.role != "rep":
        return []
    return cache.covered_leaves(user.id, on)


def sees_whole_install(user: User) -> bool:
    """Whether a user's scope is every factory (an admin's): a read of all of them then needs
    no test of scope at all, rather than one that every row passes."""
    return user.role == "admin"


def shared_scope_key(user: User) -> str | None:
    """A name for the factories in a user's scope that every user of the very same scope shares:
    "all" for the whole install, the belts a manager leads; None for a scope of one's own (a
    rep's, a factory's) or an empty one. Results kept per scope are named by it
    (crm.services.reports.kept_reports), so that only that scope is shown them."""
    if sees_whole_install(user):
        return "all"
    if user.role == "manager":
        belts = sorted(set(_led_belts(user)))
        return "belts:" + ",".join(map(str, belts)) if belts else None
    return None


def statement_key(user: User, on: date) -> tuple:
    """What the SQL of a user's scope on a day is made of (`factory_condition`, `factories`):
    equal keys, equal SQL. A statement kept per process (crm.statements) carries it in its
    key, so that a change of scope (a belt led, a leave covered) builds another."""
    if sees_whole_install(user):
        return ("all",)
    if user.role == "manager":
        return ("belts", tuple(_led_belts(user)))
    if user.role == "rep":
        owners, team_belts = _rep_reach(user, on)
        return ("rep", tuple(owners), tuple(team_belts))
    if user.role == "factory":
        return ("factory", user.factory_id)
    return ("none",)


def factory_condition(user: User, on: date) -> ColumnElement[bool]:
    """The SQL condition that keeps the factories in a user's scope."""
    if sees_whole_install(user):
        return true()
    if user.role == "manager":
        # A list, not a subquery: the planners then know how many factories these belts hold
        # (PostgreSQL keeps that per belt), and read a small belt's rows by its index.
        return Factory.belt_id.in_(_led_belts(user))
    if user.role == "rep":
        # The owners and belts as plain lists (two small reads, once a request), not
        # subqueries: under OR, PostgreSQL would test a subquery's rows against every factory
        # rather than read the few of these owners and belts from their indexes.
        # (A list of a rep's scope reads it as two sets instead: `factories`.)
        owners, team_belts = _rep_reach(user, on)
        return or_(Factory.owner_id.in_(owners), unowned_prospect_condition(team_belts))
    if user.role == "factory":
        return Factory.id == user.factory_id if user.factory_id else false()
    return false()


def _request_cache() -> dict:
    return g.setdefault("scope_cache", {}) if has_request_context() else {}


def _led_belts(user: User) -> list[int]:
    """The belts a manager leads, read once a request."""
    kept, key = _request_cache(), ("led-belts", user.id)
    if key not in kept:
        kept[key] = cache.led_belts(user.id)
    return kept[key]


def _rep_reach(user: User, on: date) -> tuple[list[int], list[int]]:
    """The owners whose factories a rep holds on a day (theirs and those they stand in for),
    and their team's belts; kept for the request, which may ask several times."""
    kept, key = _request_cache(), ("rep-reach", user.id, on)
    if key not in kept:
        owners = [user.id, *cache.covered_reps(user.id, on)]
        kept[key] = (owners, cache.team_belts(user.team_id))
    return kept[key]


def belts(user: User) -> Select:
    """`select(Belt)` limited to the belts a user works in: all, those led, or the team's."""
    if user.role == "admin":
        return select(Belt)
    if user.role == "manager":
        return select(Belt).where(Belt.id.in_(led_belt_ids(user)))
    if user.role == "rep" and user.team_id is not None:
        return select(Belt).where(Belt.team_id == user.team_id)
    return select(Belt).where(false())


def factories(user: User, on: date) -> Select:
    """`select(Factory)` limited to the user's scope on a day (leave covers count by day).

    A rep's scope is read as two indexed sets, not one OR over the table: the factories of
    the owners they hold (by owner) and the team's unowned prospects (by the partial index
    `ix_factories_unowned_prospects`), so a list of a rep's scope reads those rows only.
    """
    if user.role == "rep":
        return select(Factory).where(Factory.id.in_(rep_factory_ids(user, on)))
    return select(Factory).where(factory_condition(user, on))


def rep_factory_ids(user: User, on: date) -> CompoundSelect:
    """A rep's scope as the ids of two index scans: the owners' factories, then the team's
    unowned prospects (disjoint: one has an owner, the other none)."""
    owned, unowned = rep_parts(user, on)
    return union_all(select(Factory.id).where(owned), select(Factory.id).where(unowned))


def rep_parts(user: User, on: date) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The two disjoint parts of a rep's scope, each on an index of its own: the factories of
    the owners they hold, and the team's unowned prospects. A page of a rep's list takes its
    first rows from each part before it sorts them (crm.services.factories.factory_list)."""
    owners, team_belts = _rep_reach(user, on)
    return Factory.owner_id.in_(owners), unowned_prospect_condition(team_belts)


def unowned_prospect_condition(belt_ids: list[int]) -> ColumnElement[bool]:
    """The prospects of these belts that no rep owns: the predicate of the partial index
    `ix_factories_unowned_prospects`, written the same way so that the planners use it."""
    if not belt_ids:
        return false()
    # The status written in the statement, not bound: a planner matches a partial index's
    # predicate only against a value it can see (a prepared plan, or SQLite's, sees none).
    return and_(
        Factory.owner_id.is_(None),
        Factory.status == literal_column("'prospect'"),
        Factory.belt_id.in_(belt_ids),
    )


def factory_ids(user: User, on: date) -> Select:
    return select(Factory.id).where(factory_condition(user, on))


def of_factories_in_scope(factory_id: ColumnElement[int], user: User, on: date):
    """The condition that keeps the records (visits, tasks, requests ...) whose factory, named
    by their `factory_id` column, is in the user's scope.

    An admin's scope is every factory, and these columns are never empty (each names a factory
    that exists), so an admin's records need no condition: the subquery of every factory's id
    would be pure cost, read in full by each statement (a second per figure on the admin's team
    page). Every other role's records are those of the factories in `factory_ids`.
    """
    if sees_whole_install(user):
        return true()
    return factory_id.in_(factory_ids(user, on))


def snapshots(user: User, on: date) -> Select:
    return select(MetricSnapshot).where(of_factories_in_scope(MetricSnapshot.factory_id, user, on))


def visits(user: User, on: date) -> Select:
    return select(Visit).where(of_factories_in_scope(Visit.factory_id, user, on))


def tasks(user: User, on: date) -> Select:
    return select(Task).where(of_factories_in_scope(Task.factory_id, user, on))


def follow_ups(user: User, on: date) -> Select:
    return select(FollowUp).where(of_factories_in_scope(FollowUp.factory_id, user, on))


def stage_changes(user: User, on: date) -> Select:
    return select(StageChange).where(of_factories_in_scope(StageChange.factory_id, user, on))


def import_runs(user: User) -> Select:
    """A manager's own import runs; an admin sees everyone's; nobody else has any."""
    if user.role == "admin":
        return select(ImportRun)
    if user.role == "manager":
        return select(ImportRun).where(ImportRun.created_by_id == user.id)
    return select(ImportRun).where(false())


def invitations(user: User) -> Select:
    """A factory's colleague invitations: its own users see them, an admin sees all."""
    if user.role == "admin":
        return select(Invitation)
    if user.role == "factory" and user.factory_id is not None:
        return select(Invitation).where(Invitation.factory_id == user.factory_id)
    return select(Invitation).where(false())


# --- scoped getters ---------------------------------------------------------------------


def _one(statement: Select):
    record = db.session.scalar(statement)
    if record is None:
        raise NotFound(_("This record does not exist, or is not yours to see."))
    return record


def get_factory(user: User, factory_id: int, on: date, *options: ORMOption) -> Factory:
    """The factory in the user's scope, or 404. A factory merged into another is that other one
    (crm.services.trust.merge): its links and the outbox's visits addressed to it reach the
    kept factory, for those who see it; a page shown under the old id redirects. `options`
    load what the caller reads of it in the same round (its belt, owner, contacts)."""

    def read(wanted: int) -> Factory | None:
        # One row by its key: the condition tested on that row is cheaper than the scope's
        # sets. unique(): an option may join a collection (its contacts), one row for each.
        statement = select(Factory).options(*options)
        statement = statement.where(Factory.id == wanted, factory_condition(user, on))
        return db.session.execute(statement).unique().scalar_one_or_none()

    found = read(factory_id)
    if found is None and (kept := merged_into(factory_id)) is not None:
        found = read(kept)
    if found is None:
        raise NotFound(_("This record does not exist, or is not yours to see."))
    return found


def merged_into(factory_id: int) -> int | None:
    """The factory an old id was merged into (crm.services.trust.merge), or none."""
    return db.session.scalar(
        select(FactoryMerge.kept_id).where(FactoryMerge.merged_id == factory_id)
    )


def get_factories(user: User, factory_ids: Iterable[int], on: date) -> dict[int, Factory]:
    """Those of these factories in the user's scope, by id (a batch names many at once); the
    others are left out, whether they exist or not."""
    wanted = sorted(set(factory_ids))
    if not wanted:
        return {}
    statement = select(Factory).where(Factory.id.in_(wanted), factory_condition(user, on))
    return {factory.id: factory for factory in db.session.scalars(statement)}


def get_visit(user: User, visit_id: int, on: date) -> Visit:
    return _one(visits(user, on).where(Visit.id == visit_id))


def get_task(user: User, task_id: int, on: date) -> Task:
    return _one(tasks(user, on).where(Task.id == task_id))


def get_follow_up(user: User, follow_up_id: int, on: date) -> FollowUp:
    return _one(follow_ups(user, on).where(FollowUp.id == follow_up_id))


def get_stage_change(user: User, change_id: int, on: date) -> StageChange:
    return _one(stage_changes(user, on).where(StageChange.id == change_id))


def get_import_run(user: User, run_id: int) -> ImportRun:
    return _one(import_runs(user).where(ImportRun.id == run_id))


def get_invitation(user: User, invitation_id: int) -> Invitation:
    return _one(invitations(user).where(Invitation.id == invitation_id))
