"""The defaults a new install seeds: metrics, the four stages and their checklists (DESIGN.md)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from crm.extensions import db
from crm.models import Metric, StageDefinition, TaskTemplate

# code, English name, Chinese name, unit, direction, min, max
DEFAULT_METRICS = (
    (
        "response_3min_rate",
        "Inquiries answered within 3 minutes",
        "3分钟询盘响应率",
        "percent",
        "higher",
        0,
        100,
    ),
    ("response_median_min", "Median response time", "响应时长中位数", "minutes", "lower", 0, 1440),
    (
        "delivery_72h_rate",
        "Orders shipped within 72 hours",
        "72小时发货率",
        "percent",
        "higher",
        0,
        100,
    ),
    (
        "pickup_48h_rate",
        "Orders picked up within 48 hours",
        "48小时揽收率",
        "percent",
        "higher",
        0,
        100,
    ),
    ("repeat_buyer_90d_rate", "Repeat buyers (90 days)", "90天复购率", "percent", "higher", 0, 100),
    ("quality_refund_rate", "Quality refund rate", "品质退款率", "percent", "lower", 0, 100),
    ("dispute_rate", "Dispute rate", "纠纷率", "percent", "lower", 0, 100),
    ("service_score", "Service experience score", "服务体验分", "points", "higher", 0, 5),
    ("new_products_month", "New products a month", "月上新数", "count", "higher", 0, 10_000),
    ("gmv_month", "Monthly GMV", "月成交额", "yuan", "higher", 0, None),
)

# code, position, English and Chinese names, cadence in days, English and Chinese descriptions
DEFAULT_STAGES = (
    (
        "prospect",
        0,
        "Prospect",
        "潜在客户",
        14,
        "Not yet signed: first contact and assessment.",
        "尚未签约：首次接触与评估。",
    ),
    (
        "elementary",
        1,
        "Elementary",
        "小学",
        7,
        "Get online and live: shop, first products, first video, someone who answers.",
        "开店上线：店铺、首批商品、首条视频、有人接待询盘。",
    ),
    (
        "junior",
        2,
        "Junior high",
        "初中",
        14,
        "Service capability: fast answers, fast shipping, product videos, Merchant Day.",
        "服务能力：快速响应、快速发货、商品视频、商家节活动。",
    ),
    (
        "senior",
        3,
        "High school",
        "高中",
        21,
        "Its own online team, a steady new-product cadence, repeat buyers, paid promotion.",
        "自建线上团队、稳定上新、复购、尝试付费推广。",
    ),
    (
        "university",
        4,
        "University",
        "大学",
        30,
        "Its own brand, several retail channels, guarantees buyers rely on, custom orders.",
        "自有品牌、多渠道供货、可信赖的产能与交付保障、承接定制。",
    ),
)

# stage, English title, Chinese title, kind, required, due offset, metric, comparison, target
DEFAULT_TEMPLATES = (
    ("elementary", "Shop opened", "店铺已开通", "custom", True, 7, None, None, None),
    (
        "elementary",
        "20 products listed with real photos",
        "上架20款实拍商品",
        "custom",
        True,
        21,
        None,
        None,
        None,
    ),
    (
        "elementary",
        "First short video shot with the factory's staff",
        "与工厂员工拍摄首条短视频",
        "video_shoot",
        True,
        30,
        None,
        None,
        None,
    ),
    (
        "elementary",
        "A named person answers inquiries",
        "指定专人接待询盘",
        "team_role",
        True,
        14,
        None,
        None,
        None,
    ),
    (
        "elementary",
        "Answers within 3 minutes ≥ 60 %",
        "3分钟响应率 ≥ 60%",
        "measured",
        False,
        45,
        "response_3min_rate",
        "at_least",
        60,
    ),
    (
        "junior",
        "Answers within 3 minutes ≥ 80 %",
        "3分钟响应率 ≥ 80%",
        "measured",
        True,
        60,
        "response_3min_rate",
        "at_least",
        80,
    ),
    (
        "junior",
        "72-hour delivery ≥ 90 %",
        "72小时发货率 ≥ 90%",
        "measured",
        True,
        60,
        "delivery_72h_rate",
        "at_least",
        90,
    ),
    (
        "junior",
        "48-hour pick-up ≥ 95 %",
        "48小时揽收率 ≥ 95%",
        "measured",
        False,
        60,
        "pickup_48h_rate",
        "at_least",
        95,
    ),
    (
        "junior",
        "Videos for the 10 best sellers",
        "为10款畅销品拍摄视频",
        "video_shoot",
        True,
        45,
        None,
        None,
        None,
    ),
    (
        "junior",
        "Joins a Merchant Day promotion",
        "参加一次商家节活动",
        "custom",
        True,
        120,
        None,
        None,
        None,
    ),
    ("senior", "Art designer named", "配备美工", "team_role", True, 60, None, None, None),
    ("senior", "Operator named", "配备运营", "team_role", True, 60, None, None, None),
    ("senior", "Sales person named", "配备销售", "team_role", True, 60, None, None, None),
    (
        "senior",
        "≥ 10 new products a month",
        "月上新 ≥ 10款",
        "measured",
        True,
        90,
        "new_products_month",
        "at_least",
        10,
    ),
    (
        "senior",
        "Repeat buyers ≥ 30 %",
        "复购率 ≥ 30%",
        "measured",
        True,
        90,
        "repeat_buyer_90d_rate",
        "at_least",
        30,
    ),
    (
        "senior",
        "Quality refunds ≤ 2 %",
        "品质退款率 ≤ 2%",
        "measured",
        True,
        90,
        "quality_refund_rate",
        "at_most",
        2,
    ),
    ("senior", "Paid promotion tried", "尝试付费推广", "custom", False, 90, None, None, None),
    ("university", "Registered brand", "注册品牌", "brand", True, 180, None, None, None),
    (
        "university",
        "Supplies ≥ 3 retail channels",
        "供货 ≥ 3个零售渠道",
        "custom",
        True,
        180,
        None,
        None,
        None,
    ),
    (
        "university",
        "Capacity and delivery guarantee published",
        "公布产能与交付保障",
        "custom",
        True,
        120,
        None,
        None,
        None,
    ),
    ("university", "Takes custom orders", "承接定制订单", "custom", True, 120, None, None, None),
    (
        "university",
        "Service score ≥ 4.5",
        "服务体验分 ≥ 4.5",
        "measured",
        True,
        120,
        "service_score",
        "at_least",
        Decimal("4.5"),
    ),
    (
        "university",
        "Disputes ≤ 0.5 %",
        "纠纷率 ≤ 0.5%",
        "measured",
        False,
        120,
        "dispute_rate",
        "at_most",
        Decimal("0.5"),
    ),
)


def install_defaults() -> dict[str, int]:
    """Add whichever default metrics, stages and templates are missing; never changes existing ones.

    Idempotent: a stage's default checklist is added only while the stage has no items, so
    an admin's edits (renames, retirements, new targets) survive a second run.
    """
    added = {"metrics": 0, "stages": 0, "templates": 0}
    metrics = set(db.session.scalars(select(Metric.code)))
    for code, name_en, name_zh, unit, direction, low, high in DEFAULT_METRICS:
        if code not in metrics:
            db.session.add(
                Metric(
                    code=code,
                    name_en=name_en,
                    name_zh=name_zh,
                    unit=unit,
                    direction=direction,
                    min_value=low,
                    max_value=high,
                )
            )
            added["metrics"] += 1
    stages = set(db.session.scalars(select(StageDefinition.code)))
    for code, position, name_en, name_zh, cadence, description_en, description_zh in DEFAULT_STAGES:
        if code not in stages:
            db.session.add(
                StageDefinition(
                    code=code,
                    position=position,
                    name_en=name_en,
                    name_zh=name_zh,
                    cadence_days=cadence,
                    description_en=description_en,
                    description_zh=description_zh,
                )
            )
            added["stages"] += 1
    db.session.flush()
    # A stage's default checklist goes in only while the stage has none at all, so that an
    # admin's renamed, retired or re-targeted items are never added back by a second run.
    furnished = set(db.session.scalars(select(TaskTemplate.stage_code).distinct()))
    for position, row in enumerate(DEFAULT_TEMPLATES):
        stage, title_en, title_zh, kind, required, offset, metric, comparison, target = row
        if stage in furnished:
            continue
        db.session.add(
            TaskTemplate(
                stage_code=stage,
                position=position,
                title_en=title_en,
                title_zh=title_zh,
                kind=kind,
                required=required,
                due_offset_days=offset,
                metric_code=metric,
                comparison=comparison,
                target_value=target,
            )
        )
        added["templates"] += 1
    db.session.flush()
    return added
