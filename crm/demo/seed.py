"""The demo install (`flask crm seed-demo`): real belts, two teams, the demo logins, factories."""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sqlalchemy import func, select

from crm import clock
from crm.demo import checklists as demo_checklists
from crm.demo import store as demo_store
from crm.demo import visits as demo_visits
from crm.demo.factories import (
    DemoContext,
    FactoryPlan,
    PlainTemplate,
    mobile_number,
    person_name,
    plan_factories,
    quota,
)
from crm.errors import Conflict
from crm.extensions import db
from crm.models import (
    Belt,
    Factory,
    Metric,
    StageDefinition,
    TaskTemplate,
    Team,
    User,
)
from crm.models.team import BELT_CODE_MAX
from crm.services.accounts.auth import hash_password
from crm.services.growth import catalogue
from crm.services.install import audit, settings

DEMO_PASSWORD = "demo-pass-2026"
DEFAULT_FACTORIES = 200
DEFAULT_SEED = 2026
MIN_FACTORIES = 20  # fewer cannot hold every stage and status in both teams
# login, role, name, team (1, 2, or None); reps are listed first of their team.
DEMO_USERS = (
    ("admin@example.com", "admin", "陈静", None),
    ("manager@example.com", "manager", "王磊", 1),
    ("manager2@example.com", "manager", "刘洋", 2),
    ("rep@example.com", "rep", "张伟", 1),
    ("rep2@example.com", "rep", "李娜", 1),
    ("rep3@example.com", "rep", "赵敏", 2),
    ("rep4@example.com", "rep", "周杰", 2),
)
FACTORY_LOGIN, FACTORY_OWNER_NAME = "factory@example.com", "孙丽"
DEMO_LOGINS = (
    "admin@example.com",
    "manager@example.com",
    "manager2@example.com",
    "rep@example.com",
    "rep2@example.com",
    "factory@example.com",
)
TEAM_SHARES = {1: 0.55, 2: 0.45}
# A data set at scale has the field staff of its size (DESIGN.md "Scale": about 100
# factories a rep): beyond the demo's four reps, field reps join the two teams. Their
# managers stay the demo's two: a team leads whole belts, and the demo has only the belts
# of the data file, so more managers would be co-managers of the same factories, each sent
# every one of the team's notices.
FACTORIES_PER_REP = 100


@dataclass
class DemoCounts:
    belts: int
    users: int
    factories: int
    tasks: int
    visits: int
    snapshots: int
    follow_ups: int
    stage_changes: int


def demo_present() -> bool:
    """Whether any demo login exists: the install was seeded already."""
    return db.session.scalar(select(func.count()).where(User.email.in_(DEMO_LOGINS))) > 0


def is_empty() -> bool:
    """No users and no factories: nothing a demo could get mixed into."""
    users = db.session.scalar(select(func.count()).select_from(User))
    return users == 0 and db.session.scalar(select(func.count()).select_from(Factory)) == 0


def seed_demo(
    actor: User | str, *, factories: int = DEFAULT_FACTORIES, seed: int = DEFAULT_SEED
) -> DemoCounts:
    """Fill the install with the demo: belts, teams, demo logins and `factories` factories.

    The same seed gives the same factories (names, codes, places, statuses, stages, owners);
    times are drawn relative to now. Flushes, never commits.
    """
    if factories < MIN_FACTORIES:
        raise ValueError(f"the demo needs at least {MIN_FACTORIES} factories")
    if demo_present():
        raise Conflict("The demo logins exist already: this install was seeded.")
    catalogue.install_defaults()
    rng = random.Random(seed)
    belts = install_belts()
    team_belts = _install_teams(belts)
    ctx = _context(rng)
    users = _install_users(rng, team_belts, ctx)
    users += _install_field_staff(rng, team_belts, ctx, factories)
    plans = plan_factories(ctx, factories, team_belts, TEAM_SHARES)
    demo_visits.assign_agenda_groups(plans, ctx.team_reps[1][0])
    owned = _factory_user_plan(plans, ctx.team_reps[1][0])
    _showcase_promotion(plans, ctx.team_reps[1][0])
    owned.contacts[0].update(name=FACTORY_OWNER_NAME, role="老板")
    for plan in plans:
        # A stream of its own per factory: a branch that depends on the time of day in one
        # factory never shifts what the next one draws.
        ctx.rng = random.Random(rng.getrandbits(64))
        demo_checklists.plan_stage(ctx, plan)
        demo_visits.plan_visits(ctx, plan)
        demo_checklists.plan_checklist(ctx, plan)
    counts = demo_store.store_plans(plans)
    users.append(_factory_user(owned, rng))
    audit.record(actor, "install", None, "seed_demo", {"factories": (None, factories)})
    return DemoCounts(belts=len(belts), users=len(users), **counts)


# --- belts and teams ----------------------------------------------------------------------


def read_belts() -> list[dict[str, str]]:
    """The real industrial belts the app ships in crm/demo/belts.csv."""
    text = resources.files("crm.demo").joinpath("belts.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def belt_code(name_en: str, taken: set[str]) -> str:
    """A short ASCII slug of the English name, unique among `taken` (which it joins)."""
    words = [w for w in re.findall(r"[a-z0-9]+", name_en.lower().replace("'", "")) if w != "and"]
    code = ""
    for word in words:
        if len(f"{code}-{word}") > BELT_CODE_MAX:
            break
        code = f"{code}-{word}" if code else word
    base, number = code or "belt", 2
    while code in taken or not code:
        suffix = f"-{number}"
        code, number = base[: BELT_CODE_MAX - len(suffix)] + suffix, number + 1
    taken.add(code)
    return code


def install_belts() -> list[Belt]:
    """Every belt of the CSV, reusing those already present under the same English name."""
    existing = {belt.name_en: belt for belt in db.session.scalars(select(Belt))}
    taken = set(db.session.scalars(select(Belt.code)))
    belts = []
    for row in read_belts():
        belt = existing.get(row["belt_en"])
        if belt is None:
            belt = Belt(
                code=belt_code(row["belt_en"], taken),
                name_zh=row["belt_zh"],
                name_en=row["belt_en"],
                city_zh=row["city_zh"],
                city_en=row["city_en"],
                province_zh=row["province_zh"],
                province_en=row["province_en"],
                category_zh=row["category_zh"],
                category_en=row["category_en"],
                lat=float(row["lat"]),
                lng=float(row["lng"]),
            )
            db.session.add(belt)
        belts.append(belt)
    db.session.flush()
    return belts


def _pick(belts: list[Belt], test, taken: list[Belt], limit: int) -> list[Belt]:
    return [belt for belt in belts if test(belt) and belt not in taken][: max(0, limit)]


def _is_zhejiang(belt: Belt) -> bool:
    return belt.province_en == "Zhejiang"


def _install_teams(belts: list[Belt]) -> dict[int, list[Belt]]:
    """Team 1: Yongkang hardware and a Ningbo (or other Zhejiang) belt; team 2: Wenzhou's."""
    first = _pick(belts, lambda belt: belt.name_en.startswith("Yongkang"), [], 1)
    first += _pick(belts, lambda belt: "Ningbo" in belt.city_en, first, 1)
    first += _pick(belts, _is_zhejiang, first, 2 - len(first))
    second = _pick(belts, lambda belt: "Wenzhou" in belt.city_en, first, 3)
    second += _pick(
        belts, lambda belt: "Guangzhou" in belt.city_en, first + second, 3 - len(second)
    )
    second += _pick(belts, _is_zhejiang, first + second, 2 - len(second))
    team_belts = {1: first, 2: second}
    names: list[str] = []
    for members in team_belts.values():
        name = f"{members[0].city_zh.removesuffix('市')}团队"
        name = name if name not in names else f"{name}{len(names) + 1}"
        names.append(name)
        team = db.session.scalar(select(Team).where(Team.name == name)) or Team(name=name)
        db.session.add(team)
        for belt in members:
            belt.team = team
    db.session.flush()
    return team_belts


# --- people -------------------------------------------------------------------------------


@cache
def demo_password_hash() -> str:
    # scrypt is slow on purpose: every demo user shares one hash, made once.
    return hash_password(DEMO_PASSWORD)


def _install_users(
    rng: random.Random, team_belts: dict[int, list[Belt]], ctx: DemoContext
) -> list[User]:
    """The demo staff; records each team's reps and manager in the context."""
    phones = set(db.session.scalars(select(User.phone).where(User.phone.is_not(None))))
    users = []
    for login, role, name, team_index in DEMO_USERS:
        team = team_belts[team_index][0].team if team_index else None
        user = User(
            email=login,
            role=role,
            name=name,
            phone=_unique_phone(rng, phones),
            password_hash=demo_password_hash(),
            team=team if role == "rep" else None,
        )
        if role == "manager":
            user.led_teams = [team]
        db.session.add(user)
        users.append((user, team_index))
    db.session.flush()
    for user, team_index in users:
        if user.role == "rep":
            ctx.team_reps.setdefault(team_index, []).append(user.id)
        elif user.role == "manager":
            ctx.team_managers[team_index] = user.id
    return [user for user, _ in users]


def _install_field_staff(
    rng: random.Random, team_belts: dict[int, list[Belt]], ctx: DemoContext, factories: int
) -> list[User]:
    """The reps a data set of this size has beyond the demo's own (none at the demo's
    default size). They sign in with the demo password; records them in ctx."""
    reps = factories // FACTORIES_PER_REP - sum(len(ids) for ids in ctx.team_reps.values())
    if reps <= 0:
        return []
    phones = set(db.session.scalars(select(User.phone).where(User.phone.is_not(None))))
    teams = quota(reps, TEAM_SHARES)
    added = []
    for number, team_index in enumerate(teams, start=1):
        added.append(
            User(
                email=f"field-rep-{number:04}@example.com",
                role="rep",
                name=person_name(rng),
                phone=_unique_phone(rng, phones),
                password_hash=demo_password_hash(),
                team=team_belts[team_index][0].team,
            )
        )
    db.session.add_all(added)
    db.session.flush()
    for user, team_index in zip(added, teams, strict=True):
        ctx.team_reps[team_index].append(user.id)
    return added


def _unique_phone(rng: random.Random, taken: set[str]) -> str:
    phone = mobile_number(rng)
    while phone in taken:
        phone = mobile_number(rng)
    taken.add(phone)
    return phone


def _factory_user_plan(plans: list[FactoryPlan], rep_id: int) -> FactoryPlan:
    """The demo rep's first active factory in the second stage: the factory login's own."""
    return next(
        plan
        for plan in plans
        if plan.owner_id == rep_id and plan.status == "active" and plan.stage == "junior"
    )


def _showcase_promotion(plans: list[FactoryPlan], rep_id: int) -> None:
    """One of the demo rep's factories is eligible and its promotion awaits the manager."""
    plan = next(
        plan
        for plan in plans
        if plan.owner_id == rep_id and plan.status == "active" and plan.stage == "elementary"
    )
    plan.eligible = plan.asks_promotion = True


def _factory_user(plan: FactoryPlan, rng: random.Random) -> User:
    phones = set(db.session.scalars(select(User.phone).where(User.phone.is_not(None))))
    user = User(
        email=FACTORY_LOGIN,
        role="factory",
        name=FACTORY_OWNER_NAME,
        phone=_unique_phone(rng, phones),
        password_hash=demo_password_hash(),
        factory_id=plan.id,
        is_factory_owner=True,
    )
    db.session.add(user)
    db.session.flush()
    return user


# --- the catalogue -----------------------------------------------------------------------


def _context(rng: random.Random) -> DemoContext:
    templates: dict[str, list[PlainTemplate]] = {}
    for template in db.session.scalars(
        select(TaskTemplate).where(TaskTemplate.active.is_(True)).order_by(TaskTemplate.position)
    ):
        templates.setdefault(template.stage_code, []).append(PlainTemplate.of(template))
    return DemoContext(
        rng=rng,
        now=clock.now(),
        zone=clock.zone(),
        cadence=dict(
            db.session.execute(select(StageDefinition.code, StageDefinition.cadence_days)).all()
        ),
        templates=templates,
        metrics={metric.code: metric for metric in db.session.scalars(select(Metric))},
        radius_m=float(settings.get("checkin_radius_m")),
        accuracy_m=float(settings.get("checkin_accuracy_m")),
        position_max_age_s=float(settings.get("position_max_age_s")),
    )


# --- the logins, for the table the command prints -----------------------------------------


def demo_logins() -> list[tuple[str, str, str]]:
    """(login, role, what it holds) for each demo login present, in the order of DESIGN.md."""
    logins = [login for login, *_ in DEMO_USERS] + [FACTORY_LOGIN]
    users = db.session.scalars(select(User).where(User.email.in_(logins)))
    found = {user.email: user for user in users}
    return [(login, found[login].role, _holds(found[login])) for login in logins if login in found]


def _holds(user: User) -> str:
    if user.role == "admin":
        return "everything"
    if user.role == "manager":
        belts = [belt.name_en for team in user.led_teams for belt in team.belts]
        teams = ", ".join(team.name for team in user.led_teams)
        return f"leads {teams}: {', '.join(belts)}"
    if user.role == "rep":
        count = db.session.scalar(
            select(func.count()).select_from(Factory).where(Factory.owner_id == user.id)
        )
        return f"{user.team.name if user.team else 'no team'}: owns {count} factories"
    factory = user.factory
    return f"owner of {factory.name} ({factory.stage})" if factory else "no factory"
