"""Users, the teams they belong to or lead, and the admin's overview of the install."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.errors import Invalid
from crm.extensions import db
from crm.models import ROLES, Belt, Factory, JobRun, StageDefinition, Team, User
from crm.models.user import NAME_MAX
from crm.services.accounts import auth as auth_service
from crm.services.factories import search
from crm.services.install import audit
from crm.values import id_or_none

# How many factories the admin's factory picker lists for one search.
FACTORY_CHOICES_MAX = 10


def create_user(
    actor: User | str,
    *,
    role: str,
    name: str,
    login: str,
    password: str,
    factory_id: int | None = None,
    belt_codes: tuple[str, ...] = (),
    locale: str | None = None,
) -> User:
    """Create a user; a rep joins the team holding the belts, a manager leads those teams."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if role not in ROLES:
        errors["role"] = _("Choose one of: %(roles)s.", roles=", ".join(ROLES))
    if not name or len(name) > NAME_MAX:
        errors["name"] = _("Enter a name of 1 to %(count)d characters.", count=NAME_MAX)
    value = auth_service.normalise_login(login)
    is_email = "@" in (login or "")
    problem = auth_service.email_problem(value) if is_email else auth_service.phone_problem(value)
    if problem:
        errors["login"] = problem
    elif auth_service.find_user_by_login(value) is not None:
        errors["login"] = _("This login is taken.")
    problem = auth_service.password_problem(password or "", value)
    if problem:
        errors["password"] = problem
    factory = db.session.get(Factory, factory_id) if factory_id else None
    if role == "factory" and factory is None:
        errors["factory"] = _("A factory user needs the id of an existing factory.")
    if role != "factory" and factory_id:
        errors["factory"] = _("Only a factory user belongs to a factory.")
    teams = _teams_of_belts(belt_codes, errors)
    if role == "rep" and len(teams) > 1:
        errors["belts"] = _("A rep belongs to one team: these belts are held by several.")
    if role in ("admin", "factory") and belt_codes:
        errors["belts"] = _("Only reps and managers are given belts.")
    if errors:
        raise Invalid(_("The user could not be created."), fields=errors)

    user = User(
        role=role,
        name=name,
        email=value if is_email else None,
        phone=None if is_email else value,
        password_hash=auth_service.hash_password(password),
        locale=locale,
        factory_id=factory.id if factory else None,
        is_factory_owner=bool(factory) and not factory_has_owner(factory),
    )
    if role == "rep" and teams:
        user.team = teams[0]
    if role == "manager":
        user.led_teams = teams
    db.session.add(user)
    db.session.flush()
    audit.record(
        actor,
        "user",
        user.id,
        "create",
        {"role": (None, role), "login": (None, user.login)},
        personal=("login",),
    )
    return user


def _teams_of_belts(belt_codes: tuple[str, ...], errors: dict[str, str]) -> list[Team]:
    if not belt_codes:
        return []
    belts = db.session.scalars(select(Belt).where(Belt.code.in_(belt_codes))).all()
    missing = sorted(set(belt_codes) - {belt.code for belt in belts})
    if missing:
        errors["belts"] = _("Unknown belt codes: %(codes)s.", codes=", ".join(missing))
        return []
    if any(belt.team is None for belt in belts):
        errors["belts"] = _("Some of these belts belong to no team yet.")
        return []
    teams: list[Team] = []
    for belt in belts:
        if belt.team not in teams:
            teams.append(belt.team)
    return teams


def factory_has_owner(factory: Factory) -> bool:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.factory_id == factory.id, User.is_factory_owner.is_(True))
        )
        > 0
    )


def factory_choices(text: str, limit: int = FACTORY_CHOICES_MAX) -> list[Factory]:
    """The factories an admin's search finds for a factory user's account: by name (its pinyin
    or initials too), its credit code typed whole, or its id; by name."""
    text = text.strip()
    found = search.condition(text)
    number = id_or_none(text)
    if number is not None:
        found = found | (Factory.id == number)
    statement = select(Factory).where(found).order_by(Factory.name, Factory.id).limit(limit)
    return list(db.session.scalars(statement))


def overview() -> dict:
    """Counts for the admin's home: users by role, teams, belts, factories, stages, job runs."""
    by_role = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    return {
        "users": {role: by_role.get(role, 0) for role in ROLES},
        "teams": db.session.scalar(select(func.count()).select_from(Team)),
        "belts": db.session.scalar(select(func.count()).select_from(Belt)),
        "factories": db.session.scalar(select(func.count()).select_from(Factory)),
        "stages": db.session.scalars(
            select(StageDefinition).order_by(StageDefinition.position)
        ).all(),
        "job_runs": db.session.scalars(
            select(JobRun).order_by(JobRun.started_at.desc()).limit(5)
        ).all(),
    }
