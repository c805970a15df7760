"""The admin's teams and belts: create and edit them; a belt that moves takes its factories along.

Scope follows the rows (crm/scope.py reads Belt.team_id and team_managers on every request),
so a change is in force on the next request. A belt that moves to another team keeps its
factories' owners; those who are not reps of the new team are listed for its managers to
reassign (DESIGN.md "Scope"), who are also told in their inbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import joinedload

from crm import clock
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import Belt, Factory, Team, User
from crm.models.team import BELT_CODE_MAX, TEAM_NAME_MAX
from crm.services.install import audit
from crm.services.notices import notifications

# The column lengths of crm/models/team.py, shared with the forms.
BELT_LIMITS = {
    "name_zh": 100,
    "name_en": 100,
    "city_zh": 60,
    "city_en": 60,
    "province_zh": 60,
    "province_en": 60,
    "category_zh": 200,
    "category_en": 200,
}
BELT_FIELDS = ("code", *BELT_LIMITS, "lat", "lng", "team_id")


@dataclass
class TeamValues:
    name: str = ""
    manager_ids: list[int] = field(default_factory=list)
    rep_ids: list[int] = field(default_factory=list)
    belt_ids: list[int] = field(default_factory=list)


# --- finding ------------------------------------------------------------------------------------


def get_team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("This team does not exist."))
    return team


def get_belt(belt_id: int) -> Belt:
    belt = db.session.get(Belt, belt_id)
    if belt is None:
        raise NotFound(_("This belt does not exist."))
    return belt


def all_teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(Team.name, Team.id)))


def all_belts() -> list[Belt]:
    return list(db.session.scalars(select(Belt).options(joinedload(Belt.team)).order_by(Belt.code)))


def people(role: str) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == role, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def stray_factories(belt_ids: list[int] | None = None, team: Team | None = None) -> list[Factory]:
    """Factories whose owner is not a rep of the team that holds the belt (after a belt moved, or
    a rep changed team): the team's managers reassign them."""
    statement = (
        select(Factory)
        .join(Belt, Belt.id == Factory.belt_id)
        .join(User, User.id == Factory.owner_id)
        .where(or_(User.team_id.is_(None), User.team_id != Belt.team_id, Belt.team_id.is_(None)))
        .options(joinedload(Factory.owner), joinedload(Factory.belt))
        .order_by(Factory.name, Factory.id)
    )
    if team is not None:
        statement = statement.where(Belt.team_id == team.id)
    if belt_ids is not None:
        statement = statement.where(Belt.id.in_(belt_ids))
    return list(db.session.scalars(statement))


# --- belts --------------------------------------------------------------------------------------


def save_belt(actor: User, belt: Belt | None, values: dict) -> Belt:
    """Create a belt (None) or edit one; a change of team moves its factories' scope with it."""
    errors: dict[str, str] = {}
    code = (values.get("code") or "").strip().lower()
    if not code or len(code) > BELT_CODE_MAX:
        errors["code"] = _("Enter a code of 1 to %(count)d characters.", count=BELT_CODE_MAX)
    else:
        taken = select(Belt.id).where(Belt.code == code)
        if belt is not None:
            taken = taken.where(Belt.id != belt.id)
        if db.session.scalar(taken) is not None:
            errors["code"] = _("Another belt has this code.")
    texts = {}
    for name, limit in BELT_LIMITS.items():
        texts[name] = (values.get(name) or "").strip()
        if not texts[name] or len(texts[name]) > limit:
            errors[name] = _("Enter 1 to %(count)d characters.", count=limit)
    for name, low, high in (("lat", -90, 90), ("lng", -180, 180)):
        number = values.get(name)
        if number is None or not low <= float(number) <= high:
            errors[name] = _("Enter a number from %(low)d to %(high)d.", low=low, high=high)
    team_id = values.get("team_id") or None
    team = db.session.get(Team, team_id) if team_id else None
    if team_id and team is None:
        errors["team_id"] = _("Choose a team from the list.")
    if errors:
        raise Invalid(_("The belt could not be saved."), fields=errors)
    before = _belt_snapshot(belt) if belt is not None else {}
    former_team = belt.team if belt is not None else None
    if belt is None:
        belt = Belt()
        db.session.add(belt)
    belt.code = code
    for name, text in texts.items():
        setattr(belt, name, text)
    belt.lat, belt.lng = float(values["lat"]), float(values["lng"])
    belt.team = team
    db.session.flush()
    changes = audit.diff(before, _belt_snapshot(belt))
    if changes:
        audit.record(actor, "belt", belt.id, "update" if before else "create", changes)
    if before and changes.keys() & SHOWN_WITH_FACTORIES:
        _touch_factories([belt.id])
    if before and former_team is not team:
        _tell_new_managers(belt)
    return belt


# What a factory shows of its belt (the API's factory), and the team that decides who sees it.
SHOWN_WITH_FACTORIES = frozenset({"code", "name_en", "name_zh", "team_id"})


def _touch_factories(belt_ids: list[int]) -> None:
    """A belt's move or new name changes its factories as the API shows them and who sees them:
    their updated_at moves, so that a sync (`updated_since`) takes them again."""
    if belt_ids:
        db.session.execute(
            update(Factory).where(Factory.belt_id.in_(belt_ids)).values(updated_at=clock.now())
        )


def _belt_snapshot(belt: Belt) -> dict:
    snapshot = {name: getattr(belt, name) for name in BELT_FIELDS if name != "team_id"}
    snapshot["team_id"] = belt.team.id if belt.team is not None else belt.team_id
    return snapshot


def _tell_new_managers(*belts: Belt) -> None:
    """The managers of a belt's new team hear of the factories whose owners are not theirs."""
    for belt in belts:
        if belt.team is None:
            continue
        strays = stray_factories([belt.id])
        if not strays:
            continue
        count = len(strays)
        notifications.notify(
            belt.team.managers,
            "belt_moved",
            lambda belt=belt, count=count: ngettext(
                "%(belt)s joined your team: %(num)d factory has an owner outside it",
                "%(belt)s joined your team: %(num)d factories have owners outside it",
                count,
                belt=belt.name_for(str(get_locale() or "en")),
            ),
            link=f"/pipeline/reassign?belt={belt.id}",
            body=lambda: _("Reassign them to reps of your team."),
        )


# --- teams --------------------------------------------------------------------------------------


def save_team(actor: User, team: Team | None, values: TeamValues) -> Team:
    """Create a team (None) or edit one: its name, managers, reps and belts."""
    errors: dict[str, str] = {}
    name = (values.name or "").strip()
    if not name or len(name) > TEAM_NAME_MAX:
        errors["name"] = _("Enter a name of 1 to %(count)d characters.", count=TEAM_NAME_MAX)
    else:
        taken = select(Team.id).where(Team.name == name)
        if team is not None:
            taken = taken.where(Team.id != team.id)
        if db.session.scalar(taken) is not None:
            errors["name"] = _("Another team has this name.")
    managers = _chosen(User, values.manager_ids, and_(User.role == "manager", User.active))
    reps = _chosen(User, values.rep_ids, and_(User.role == "rep", User.active))
    belts = _chosen(Belt, values.belt_ids, None)
    if not values.manager_ids:
        errors["manager_ids"] = _("A team needs at least one manager.")
    elif managers is None:
        errors["manager_ids"] = _("Choose active managers from the list.")
    if reps is None:
        errors["rep_ids"] = _("Choose active reps from the list.")
    if belts is None:
        errors["belt_ids"] = _("Choose belts from the list.")
    if errors:
        raise Invalid(_("The team could not be saved."), fields=errors)
    before = _team_snapshot(team) if team is not None else {}
    if team is None:
        team = Team()
        db.session.add(team)
    team.name = name
    db.session.flush()
    team.managers = managers
    for rep in list(team.reps):
        if rep not in reps:
            rep.team = None
    for rep in reps:
        rep.team = team
    arriving = [belt for belt in belts if belt.team is not team]
    leaving = [belt for belt in team.belts if belt not in belts]
    for belt in list(team.belts):
        if belt not in belts:
            audit.record(actor, "belt", belt.id, "update", {"team_id": (team.id, None)})
            belt.team = None
    for belt in belts:
        if belt.team is not team:
            audit.record(
                actor,
                "belt",
                belt.id,
                "update",
                {"team_id": (belt.team.id if belt.team else None, team.id)},
            )
        belt.team = team
    db.session.flush()
    _touch_factories([belt.id for belt in (*arriving, *leaving)])
    changes = audit.diff(before, _team_snapshot(team))
    if changes:
        audit.record(actor, "team", team.id, "update" if before else "create", changes)
    _tell_new_managers(*arriving)
    return team


def _chosen(model, ids: list[int], condition) -> list | None:
    """The rows named, or None when one of them is not a valid choice."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    statement = select(model).where(model.id.in_(ids))
    if condition is not None:
        statement = statement.where(condition)
    rows = list(db.session.scalars(statement))
    return rows if len(rows) == len(ids) else None


def _team_snapshot(team: Team) -> dict:
    def ids(rows) -> str:
        return ",".join(str(row.id) for row in sorted(rows, key=lambda row: row.id))

    return {
        "name": team.name,
        "manager_ids": ids(team.managers),
        "rep_ids": ids(team.reps),
        "belt_ids": ids(team.belts),
    }
