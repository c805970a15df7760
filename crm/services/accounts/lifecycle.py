"""The admin's users: find, create, edit, deactivate (with the leaving rep's handover), reactivate.

An admin never sees or sets a password: a new user gets an unusable one and signs in through
a reset link (crm.services.accounts.password_resets). A deactivated user cannot sign in (the
login answers as for an unknown one), every session of theirs ends at once, and whatever they
owned has moved to an active rep in the same transaction
(crm.services.factories.reassign.hand_over).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import Belt, Factory, FollowUp, Task, Team, User, team_managers
from crm.models.user import LOCALES, NAME_MAX, ROLES
from crm.services.accounts import auth as auth_service
from crm.services.accounts import credentials, users
from crm.services.factories import reassign
from crm.services.install import audit
from crm.services.portal import invitations

PAGE_SIZE = 50
# What an audit entry keeps of a user; e-mail and phone are personal (erasable) fields.
AUDITED = ("name", "email", "phone", "locale", "team_id", "factory_id", "team_ids")
PERSONAL = ("name", "email", "phone")


@dataclass
class UserFilters:
    text: str = ""
    role: str = ""
    team_id: int | None = None
    belt_id: int | None = None
    active: bool | None = None


@dataclass
class UserValues:
    """What the admin's user form holds; `team_ids` are the teams a manager leads."""

    role: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    locale: str | None = None
    team_id: int | None = None
    team_ids: list[int] = field(default_factory=list)
    factory_id: int | None = None


# --- finding ------------------------------------------------------------------------------------


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("This user does not exist."))
    return user


def search(filters: UserFilters, page: int = 1, size: int = PAGE_SIZE) -> tuple[list[User], int]:
    """One page of the users that match, by name then id (a stable order), and how many match."""
    statement = _filtered(filters)
    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = db.session.scalars(
        statement.options(selectinload(User.team), selectinload(User.led_teams))
        .order_by(User.name, User.id)
        .offset((max(page, 1) - 1) * size)
        .limit(size)
    )
    return list(rows), total


def _filtered(filters: UserFilters) -> Select:
    statement = select(User)
    text = filters.text.strip()
    if text:
        like = f"%{text.lower()}%"
        conditions = [func.lower(User.name).like(like), User.email.like(like)]
        digits = auth_service.normalise_phone(text)
        if digits:
            conditions.append(User.phone.like(f"%{digits}%"))
        statement = statement.where(or_(*conditions))
    if filters.role in ROLES:
        statement = statement.where(User.role == filters.role)
    if filters.active is not None:
        statement = statement.where(User.active.is_(filters.active))
    if filters.team_id is not None:
        statement = statement.where(_in_teams(select(Team.id).where(Team.id == filters.team_id)))
    if filters.belt_id is not None:
        holding = select(Belt.team_id).where(Belt.id == filters.belt_id)
        owns = select(Factory.owner_id).where(
            Factory.belt_id == filters.belt_id, Factory.owner_id.is_not(None)
        )
        in_belt = or_(
            _in_teams(holding),
            User.id.in_(owns),
            User.factory_id.in_(select(Factory.id).where(Factory.belt_id == filters.belt_id)),
        )
        statement = statement.where(in_belt)
    return statement


def _in_teams(team_ids: Select):
    """A rep of, or a manager leading, one of the teams."""
    led = select(team_managers.c.user_id).where(team_managers.c.team_id.in_(team_ids))
    return or_(User.team_id.in_(team_ids), User.id.in_(led))


def teams() -> list[Team]:
    return list(db.session.scalars(select(Team).order_by(Team.name, Team.id)))


def work_of(user: User) -> dict[str, int]:
    """What a rep (or a manager) holds that someone must take over: factories, open
    follow-ups, open tasks."""
    return {
        "factories": _count(Factory, Factory.owner_id == user.id),
        "follow_ups": _count(FollowUp, FollowUp.assignee_id == user.id, FollowUp.status == "open"),
        "tasks": _count(
            Task, Task.owner_id == user.id, Task.status.in_(reassign.OPEN_TASK_STATUSES)
        ),
    }


def belts_of_work(user: User) -> list[Belt]:
    """The belts of the factories a rep owns or holds open work on: one taker each may be named."""
    owned = select(Factory.belt_id).where(Factory.owner_id == user.id)
    followed = (
        select(Factory.belt_id)
        .join(FollowUp, FollowUp.factory_id == Factory.id)
        .where(FollowUp.assignee_id == user.id, FollowUp.status == "open")
    )
    tasked = (
        select(Factory.belt_id)
        .join(Task, Task.factory_id == Factory.id)
        .where(Task.owner_id == user.id, Task.status.in_(reassign.OPEN_TASK_STATUSES))
    )
    ids = owned.union(followed, tasked)
    return list(db.session.scalars(select(Belt).where(Belt.id.in_(ids)).order_by(Belt.code)))


def active_reps() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role == "rep", User.active.is_(True))
            .options(selectinload(User.team))
            .order_by(User.name, User.id)
        )
    )


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- creating and editing -----------------------------------------------------------------------


def create(actor: User, values: UserValues) -> User:
    """A new user with no usable password: the admin then issues a reset link."""
    errors: dict[str, str] = {}
    if values.role not in ROLES:
        errors["role"] = _("Choose one of: %(roles)s.", roles=", ".join(ROLES))
    user = User(role=values.role, active=True)
    placement = _check(values, None, errors)
    if errors:
        raise Invalid(_("The user could not be created."), fields=errors)
    user.password_hash = auth_service.hash_password(secrets.token_urlsafe(32))
    _apply(user, values, placement)
    if user.role == "factory":
        user.is_factory_owner = not users.factory_has_owner(placement["factory"])
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "user",
        user.id,
        "create",
        {"role": (None, user.role), **audit.diff({}, _snapshot(user))},
        personal=PERSONAL,
    )
    return user


def update_user(actor: User, user: User, values: UserValues) -> User:
    """Edit a user's name, logins, language and place (team, teams or factory); not the role."""
    if user.erased_at is not None:  # irreversible (crm.services.privacy.erasure)
        raise Invalid(_("This user's personal data is already erased."))
    values.role = user.role
    errors: dict[str, str] = {}
    placement = _check(values, user, errors)
    if errors:
        raise Invalid(_("The user could not be saved."), fields=errors)
    before = _snapshot(user)
    _apply(user, values, placement)
    db.session.flush()
    changes = audit.diff(before, _snapshot(user))
    if changes:
        audit.record(actor, "user", user.id, "update", changes, personal=PERSONAL)
    return user


def _check(values: UserValues, user: User | None, errors: dict[str, str]) -> dict:
    """Check a form's values against the rules of a user; returns the records they name."""
    values.name = (values.name or "").strip()
    if not values.name or len(values.name) > NAME_MAX:
        errors["name"] = _("Enter a name of 1 to %(count)d characters.", count=NAME_MAX)
    email = auth_service.normalise_email(values.email)
    phone_raw = (values.phone or "").strip()
    phone = auth_service.normalise_phone(phone_raw)
    if email:
        problem = auth_service.email_problem(email)
        if problem is None and _taken(User.email, email, user):
            problem = _("This e-mail address is another user's login.")
        if problem:
            errors["email"] = problem
    if phone_raw:
        problem = auth_service.phone_problem(phone)
        if problem is None and _taken(User.phone, phone, user):
            problem = _("This mobile number is another user's login.")
        if problem:
            errors["phone"] = problem
    if not email and not phone_raw:
        errors["email"] = _(
            "Give an e-mail address, a mobile number, or both: the user signs in with them."
        )
    if values.locale and values.locale not in LOCALES:
        errors["locale"] = _("Choose a language from the list.")
    values.email, values.phone = email, phone
    return _placement(values, errors)


def _taken(column, value: str, user: User | None) -> bool:
    statement = select(User.id).where(column == value)
    if user is not None:
        statement = statement.where(User.id != user.id)
    return db.session.scalar(statement) is not None


def _placement(values: UserValues, errors: dict[str, str]) -> dict:
    """The team of a rep, the teams of a manager, the factory of a factory user."""
    placement: dict = {"team": None, "teams": [], "factory": None}
    if values.role == "rep":
        placement["team"] = db.session.get(Team, values.team_id) if values.team_id else None
        if placement["team"] is None:
            errors["team_id"] = _("A rep belongs to one team: choose it.")
    elif values.role == "manager":
        ids = list(dict.fromkeys(values.team_ids))
        placement["teams"] = list(db.session.scalars(select(Team).where(Team.id.in_(ids))))
        if len(placement["teams"]) != len(ids):
            errors["team_ids"] = _("Choose teams from the list.")
    elif values.role == "factory":
        placement["factory"] = (
            db.session.get(Factory, values.factory_id) if values.factory_id else None
        )
        if placement["factory"] is None:
            errors["factory_id"] = _("Choose the factory: type part of its name, then save.")
    return placement


def _apply(user: User, values: UserValues, placement: dict) -> None:
    user.name = values.name
    user.email = values.email or None
    user.phone = values.phone or None
    user.locale = values.locale or None
    if user.role == "rep":
        user.team = placement["team"]
    if user.role == "manager":
        user.led_teams = placement["teams"]
    if user.role == "factory" and user.factory_id != placement["factory"].id:
        user.factory_id = placement["factory"].id


def _snapshot(user: User) -> dict:
    return {
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "locale": user.locale,
        "team_id": user.team.id if user.team is not None else user.team_id,
        "factory_id": user.factory_id,
        "team_ids": ",".join(str(team.id) for team in sorted(user.led_teams, key=lambda t: t.id)),
    }


# --- deactivating and reactivating --------------------------------------------------------------


def deactivate(
    actor: User,
    user: User,
    now: datetime,
    *,
    to_rep: User | None = None,
    per_belt: dict[int, User] | None = None,
) -> reassign.Reassignment | None:
    """Deactivate a user; a rep's factories, open follow-ups and open tasks move first, in the
    same transaction, to the named reps. Their sessions, API tokens, reset links and the
    invitations they made end, for good."""
    if user.id == actor.id:
        message = _("You cannot deactivate yourself; ask another admin.")
        raise Invalid(message, fields={"to_rep": message})
    if not user.active:
        raise Invalid(_("This user is already deactivated."))
    if user.role == "manager":
        alone = [team.name for team in user.led_teams if len(team.managers) == 1]
        if alone:
            message = _(
                "%(name)s is the only manager of %(teams)s: give the team another manager first.",
                name=user.name,
                teams=", ".join(alone),
            )
            raise Invalid(message, fields={"to_rep": message})
    moved = None
    # Nothing may stay with an inactive user: a rep's factories, and anyone's open
    # follow-ups and tasks (a manager may hold some), go to the named reps first.
    if user.role in ("rep", "manager") and any(work_of(user).values()):
        moved = reassign.hand_over(actor, user, to_rep, now, per_belt=per_belt)
    user.active = False
    # For good: reactivation gives back none of these (the user gets a new reset link).
    credentials.end_all(actor, user, now)
    invitations.revoke_made_by(actor, user, now)
    db.session.flush()
    audit.record(actor, "user", user.id, "deactivate", {"active": (True, False)})
    return moved


@dataclass
class Handover:
    """What a deactivation hands over, as counts, and how many factories each taker gets."""

    factories: int = 0
    follow_ups: int = 0
    tasks: int = 0
    takers: list[tuple[str, int]] = field(default_factory=list)


def preview_deactivation(
    actor: User,
    user: User,
    now: datetime,
    *,
    to_rep: User | None = None,
    per_belt: dict[int, User] | None = None,
) -> Handover:
    """What `deactivate` would move, for the admin to confirm: the same rules and refusals
    (Invalid), run in a savepoint that is rolled back, so nothing changes."""
    savepoint = db.session.begin_nested()
    try:
        moved = deactivate(actor, user, now, to_rep=to_rep, per_belt=per_belt)
        handover = Handover()
        if moved is not None:
            per_taker: dict[str, int] = {}
            for factory in moved.factories:
                per_taker[factory.owner.name] = per_taker.get(factory.owner.name, 0) + 1
            handover = Handover(
                moved.count, moved.follow_ups, moved.tasks, sorted(per_taker.items())
            )
    finally:
        savepoint.rollback()
    return handover


def reactivate(actor: User, user: User) -> User:
    if user.active:
        return user
    if user.erased_at is not None:  # irreversible (crm.services.privacy.erasure)
        raise Invalid(_("An erased user is never reactivated: create a new user instead."))
    user.active = True
    db.session.flush()
    audit.record(actor, "user", user.id, "reactivate", {"active": (False, True)})
    return user
