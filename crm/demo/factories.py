"""Demo data, part one: the planning state, and which factories exist, where, whose, how far."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from crm.models import STAGES, Belt, Metric, TaskTemplate
from crm.services.factories import search_keys
from crm.services.factories.credit_code import ALPHABET, check_digit, organisation_check

K = TypeVar("K")
STATUS_WEIGHTS = {"prospect": 15, "active": 75, "paused": 6, "churned": 4}
STAGE_WEIGHTS = {"elementary": 35, "junior": 28, "senior": 22, "university": 15}
UNOWNED_PROSPECT_SHARE = 0.4
DEMO_TEAM_REPS = 2  # the demo's own reps in each team (crm/demo/seed.py DEMO_USERS)
KEY_ACCOUNT_SHARES = {
    None: 0.0,
    "elementary": 0.03,
    "junior": 0.08,
    "senior": 0.2,
    "university": 0.4,
}
RADIUS_M = 8000  # factories lie within this distance of their belt's centre
METRES_PER_DEGREE = 111_320

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余"
# Given names of one character, and of two (read in pairs).
GIVEN_ONE = "伟芳娜敏静丽强磊军洋勇艳杰涛明超华丹萍鹏辉斌宇浩凯婷雪琳"
GIVEN_TWO = (
    "秀英建华建国志强海燕晓东春梅国庆丽萍文斌晓燕红霞永刚海波金凤"
    "小龙俊杰思远嘉怡子涵雨萱建军卫东爱华玉兰振华"
)
BRAND_FIRST = "恒宏华鑫金永瑞嘉顺新天东博德盛泰丰康源昌隆兴聚佳美通海浩创立"
BRAND_SECOND = "达泰盛源丰昌隆兴宇宝辉发利鑫通诚信益安邦晟锦翔腾远力美科成"
NAME_SUFFIXES = ("有限公司", "有限公司", "有限公司", "厂", "股份有限公司")
CONTACT_ROLES = ("老板", "总经理", "厂长", "电商负责人", "销售经理", "客服主管")

# belt_en: place on the business licence, region code of the credit code, products, streets.
PROFILES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "Yongkang hardware": (
        "永康市",
        "330784",
        ("五金制品", "电动工具", "保温杯", "滑板车", "门业", "不锈钢制品", "厨具"),
        ("经济开发区金川路", "江南街道南苑路", "古山镇工业区", "西城街道工业区", "芝英镇五金园"),
    ),
    "Yiwu small commodities": (
        "义乌市",
        "330782",
        ("日用品", "饰品", "玩具", "工艺品", "文具", "塑料制品", "礼品"),
        ("稠江街道工业园", "廿三里街道工业区", "佛堂镇工业园区", "苏溪镇工业区", "后宅街道工业区"),
    ),
    "Liushi (Yueqing) low-voltage electrical": (
        "乐清市",
        "330382",
        ("电气", "电器", "开关", "断路器", "电力设备", "接插件"),
        ("柳市镇工业区", "柳市镇新光工业区", "北白象镇工业区", "乐清经济开发区", "象阳镇工业区"),
    ),
    "Yongjia buttons and metal fasteners": (
        "永嘉县",
        "330324",
        ("纽扣", "服饰辅料", "拉链", "五金饰扣", "金属制品"),
        ("瓯北街道工业区", "桥头镇纽扣城", "桥下镇工业区", "上塘镇城北工业区"),
    ),
}
GENERIC_STREETS = ("工业园区创业路", "经济开发区兴业大道", "科技园区新园路", "城东工业区")
# The region digits of a credit code by province, for belts without a profile.
PROVINCE_REGIONS = {
    "Zhejiang": "330100",
    "Guangdong": "440100",
    "Jiangsu": "320100",
    "Fujian": "350100",
    "Hebei": "130100",
    "Shandong": "370100",
    "Sichuan": "510100",
    "Jiangxi": "360100",
    "Hunan": "430100",
    "Tianjin": "120100",
}


@dataclass(frozen=True, slots=True)
class PlainTemplate:
    """One task template as plain values: read for every task, so no ORM attribute lookups."""

    id: int
    kind: str
    required: bool
    due_offset_days: int
    metric_code: str | None
    comparison: str | None
    target_value: Decimal | None
    copied: dict  # the fields a task copies from its template

    @classmethod
    def of(cls, template: TaskTemplate) -> PlainTemplate:
        copied = {
            "template_id": template.id,
            "stage": template.stage_code,
            "title_en": template.title_en,
            "title_zh": template.title_zh,
            "kind": template.kind,
            "required": template.required,
            "metric_code": template.metric_code,
            "comparison": template.comparison,
            "target_value": template.target_value,
        }
        return cls(
            id=template.id,
            kind=template.kind,
            required=template.required,
            due_offset_days=template.due_offset_days,
            metric_code=template.metric_code,
            comparison=template.comparison,
            target_value=template.target_value,
            copied=copied,
        )


@dataclass
class DemoContext:
    """What every planning step shares: the random source, the clock and the catalogue."""

    rng: random.Random
    now: datetime
    zone: ZoneInfo
    cadence: dict[str, int]
    templates: dict[str, list[PlainTemplate]]
    metrics: dict[str, Metric]
    radius_m: float
    accuracy_m: float
    position_max_age_s: float
    team_reps: dict[int, list[int]] = field(default_factory=dict)
    team_managers: dict[int, int] = field(default_factory=dict)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()

    def day_of(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """The UTC instant of a wall-clock time on a local day."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone).astimezone(
            self.now.tzinfo
        )

    def working_time(self, day: date) -> datetime:
        """A moment of the working day on a local day, never later than a little before now."""
        share = self.rng.random()
        instant = self.at(day, 8) + timedelta(seconds=int(share * 10 * 3600))
        latest = self.now - timedelta(minutes=20)
        return instant if instant < latest else latest - timedelta(seconds=int(share * 5400))


@dataclass
class FactoryPlan:
    """One demo factory and everything hanging off it, as rows waiting for their ids."""

    belt: Belt
    team: int
    status: str
    stage: str | None
    owner_id: int | None = None
    id: int | None = None
    eligible: bool = False
    asks_promotion: bool = False  # an eligible factory whose promotion awaits a manager
    # The demo rep's open follow-up is forced into a group so that Today shows all three.
    agenda_group: str | None = None
    # When a paused or churned factory stopped: no visits or progress after it.
    stopped_at: datetime | None = None
    row: dict = field(default_factory=dict)
    contacts: list[dict] = field(default_factory=list)
    visits: list[dict] = field(default_factory=list)
    follow_ups: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    stage_changes: list[dict] = field(default_factory=list)


def quota(total: int, weights: dict[K, float]) -> list[K]:
    """`total` keys in the proportions of the weights (largest remainder), each at least once."""
    keys = list(weights)
    base = dict.fromkeys(keys, 1 if total >= len(keys) else 0)
    rest = total - sum(base.values())
    scale = sum(weights.values())
    raw = {key: rest * weights[key] / scale for key in keys}
    counts = {key: base[key] + int(raw[key]) for key in keys}
    left = total - sum(counts.values())
    for key in sorted(keys, key=lambda k: raw[k] - int(raw[k]), reverse=True)[:left]:
        counts[key] += 1
    return [key for key in keys for _ in range(counts[key])]


def plan_factories(
    ctx: DemoContext, count: int, team_belts: dict[int, list[Belt]], team_shares: dict[int, float]
) -> list[FactoryPlan]:
    """The demo's factories: statuses and stages in set proportions, owners, names and places."""
    shares = quota(count, team_shares)
    plans: list[FactoryPlan] = []
    for team, belts in team_belts.items():
        size = shares.count(team)
        team_plans = _team_plans(ctx, team, belts, size)
        reps = ctx.team_reps[team]
        # The demo rep holds over half the first team's factories, unless the data set has
        # the field staff of its size; then everyone holds about the same.
        main_share = 0.55 if team == 1 and len(reps) <= DEMO_TEAM_REPS else None
        _assign_owners(ctx, team_plans, reps, main_share=main_share, showcase=team == 1)
        plans.extend(team_plans)
    used_names: set[str] = set()
    used_codes: set[str] = set()
    for index, plan in enumerate(plans):
        _fill_identity(ctx, plan, index, used_names, used_codes)
    return plans


def _team_plans(ctx: DemoContext, team: int, belts: list[Belt], size: int) -> list[FactoryPlan]:
    rng = ctx.rng
    statuses = quota(size, STATUS_WEIGHTS)
    active_stages = iter(quota(statuses.count("active"), STAGE_WEIGHTS))
    pairs = []
    for status in statuses:
        if status == "prospect":
            stage = None
        elif status == "active":
            stage = next(active_stages)
        else:
            stage = rng.choices(list(STAGE_WEIGHTS), list(STAGE_WEIGHTS.values()))[0]
        pairs.append((status, stage))
    rng.shuffle(pairs)
    # The team's first belt holds the most factories.
    belt_order = quota(size, {belt: 3 if belt is belts[0] else 2 for belt in belts})
    rng.shuffle(belt_order)
    return [
        FactoryPlan(belt=belt, team=team, status=status, stage=stage)
        for (status, stage), belt in zip(pairs, belt_order, strict=True)
    ]


def _assign_owners(
    ctx: DemoContext,
    plans: list[FactoryPlan],
    reps: list[int],
    main_share: float | None,
    showcase: bool,
) -> None:
    """Split a team's factories among its reps (the first with `main_share` of them, if set);
    with `showcase`, the first rep gets an active one of each stage."""
    rng = ctx.rng
    if main_share is None:
        weights = [1.0] * len(reps)
    else:
        others = (1 - main_share) / max(1, len(reps) - 1)
        weights = [main_share, *[others] * (len(reps) - 1)]
    uncovered = set(STAGES) if showcase else set()
    first_prospect = True
    for plan in plans:
        if plan.status == "prospect":
            # Some prospects stay unowned, so that the team's reps have something to claim.
            unowned = first_prospect or rng.random() < UNOWNED_PROSPECT_SHARE
            first_prospect = False
            plan.owner_id = None if unowned else rng.choices(reps, weights)[0]
        elif plan.status == "active" and plan.stage in uncovered:
            uncovered.discard(plan.stage)
            plan.owner_id = reps[0]
        else:
            plan.owner_id = rng.choices(reps, weights)[0]


def _profile(belt: Belt) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    if belt.name_en in PROFILES:
        return PROFILES[belt.name_en]
    products = tuple(
        part.strip()
        for part in belt.category_zh.replace("（", "、").replace("）", "").split("、")
        if part.strip()
    )[:3]
    region = PROVINCE_REGIONS.get(belt.province_en, "110100")
    return belt.city_zh, region, products or ("制品",), GENERIC_STREETS


def _fill_identity(
    ctx: DemoContext, plan: FactoryPlan, index: int, used_names: set[str], used_codes: set[str]
) -> None:
    """Name, credit code, address, position, shop and contacts of one factory."""
    rng = ctx.rng
    place, region, products, streets = _profile(plan.belt)
    product = rng.choice(products)
    name = _factory_name(rng, place, product, used_names)
    lat, lng = offset_position(
        rng, plan.belt.lat, plan.belt.lng, RADIUS_M * math.sqrt(rng.random())
    )
    town = "" if place == plan.belt.city_zh else place
    street = f"{rng.choice(streets)}{rng.randint(1, 999)}号"
    address = f"{plan.belt.province_zh}{plan.belt.city_zh}{town}{street}"
    plan.row.update(
        name=name,
        search_key=search_keys.factory_key(name, address),
        credit_code=_credit_code(rng, region, used_codes),
        belt_id=plan.belt.id,
        category=product,
        address=address,
        lat=round(lat, 6),
        lng=round(lng, 6),
        shop_url="" if plan.status == "prospect" else f"https://shop.example.com/f{index + 1:06d}",
        is_key_account=_is_key_account(rng, plan.stage),
        owner_id=plan.owner_id,
        status=plan.status,
        stage=plan.stage,
        paused_days=0,
        eligible_since=None,
    )
    roles = (rng.choice(CONTACT_ROLES[:3]), rng.choice(CONTACT_ROLES[3:]))
    plan.contacts = [_contact(rng, role) for role in roles[: rng.randint(1, 2)]]


def _contact(rng: random.Random, role: str) -> dict:
    phone = mobile_number(rng)
    wechat = f"wxid_{rng.getrandbits(40):010x}" if rng.random() < 0.7 else ""
    name = person_name(rng)
    return {
        "name": name,
        "role": role,
        "phone": phone,
        "phone_digits": phone,
        "search_key": search_keys.contact_key(name, phone),
        "wechat_id": wechat,
    }


def _factory_name(rng: random.Random, place: str, product: str, used: set[str]) -> str:
    for _ in range(30):
        first, second = rng.choice(BRAND_FIRST), rng.choice(BRAND_SECOND)
        if first == second:
            continue
        name = f"{place}{first}{second}{product}{rng.choice(NAME_SUFFIXES)}"
        if name not in used:
            break
    used.add(name)
    return name


def _credit_code(rng: random.Random, region: str, used: set[str]) -> str:
    """A valid unified social credit code of an enterprise (91) registered in the region."""
    while True:
        organisation = "MA" + "".join(rng.choice(ALPHABET) for _ in range(6))
        first17 = f"91{region}{organisation}{organisation_check(organisation)}"
        code = first17 + check_digit(first17)
        if code not in used:
            used.add(code)
            return code


def _is_key_account(rng: random.Random, stage: str | None) -> bool:
    return rng.random() < KEY_ACCOUNT_SHARES[stage]


def blank_row(model: type) -> dict:
    """Every column of a child record but its id and factory, set to None, for bulk inserts."""
    return dict.fromkeys(_column_keys(model))


@cache
def _column_keys(model: type) -> tuple[str, ...]:
    return tuple(
        column.key for column in model.__table__.columns if column.key not in ("id", "factory_id")
    )


def person_name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(SURNAMES) + rng.choice(GIVEN_ONE)
    pair = rng.randrange(len(GIVEN_TWO) // 2)
    return rng.choice(SURNAMES) + GIVEN_TWO[2 * pair : 2 * pair + 2]


def mobile_number(rng: random.Random) -> str:
    """Eleven digits starting with 1, like a mainland mobile number."""
    return f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}"


def offset_position(
    rng: random.Random, lat: float, lng: float, distance_m: float
) -> tuple[float, float]:
    """A point the given distance from (lat, lng) in a random direction."""
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance_m * math.cos(bearing) / METRES_PER_DEGREE
    dlng = distance_m * math.sin(bearing) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng
