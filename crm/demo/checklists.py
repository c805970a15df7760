"""Demo data, part two: each factory's stage history, checklist tasks and metric snapshots."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from crm.demo.factories import (
    DemoContext,
    FactoryPlan,
    PlainTemplate,
    blank_row,
    person_name,
)
from crm.models import STAGES, Task
from crm.models.stage import next_stage

# How long ago a factory entered its current stage, in days (low, high).
STAGE_AGE_DAYS = {
    "elementary": (5, 80),
    "junior": (20, 200),
    "senior": (40, 300),
    "university": (90, 500),
}
ELIGIBLE_SHARE = 0.12
# How far the tasks of a stage have got: before their due date, and after it.
TASK_OUTCOMES = ("done", "submitted", "waived", "open")
WEIGHTS, PAST_DUE_WEIGHTS = (30, 15, 0, 55), (65, 10, 5, 20)
MEETS_SHARE = 0.55
STALE_FIGURES_SHARE = 0.1
# Realistic figures per metric: low, high, decimal places.
METRIC_RANGES = {
    "response_3min_rate": (35, 99, 1),
    "response_median_min": (0.5, 30, 1),
    "delivery_72h_rate": (70, 100, 1),
    "pickup_48h_rate": (80, 100, 1),
    "repeat_buyer_90d_rate": (8, 55, 1),
    "quality_refund_rate": (0.2, 6, 2),
    "dispute_rate": (0.05, 1.5, 2),
    "service_score": (3.6, 5, 2),
    "new_products_month": (1, 40, 0),
    "gmv_month": (20_000, 3_000_000, 0),
}
WAIVE_REASONS = (
    "Agreed with the manager: the factory sells through distributors for now.",
    "经理同意：该工厂暂不适用此项，下阶段再补。",
    "Seasonal factory; revisit after the Spring Festival.",
)
SEND_BACK_REASONS = (
    "照片看不清，请重新拍摄。",
    "The link opens an empty page; send the right one.",
)
EVIDENCE_NOTES = {
    "custom": ("已完成，见店铺后台截图。", "Done; checked in the shop's back office.", "已上线。"),
    "brand": ("商标注册证已上传。", "Trademark certificate seen on site."),
    "video_shoot": ("视频已剪辑上传。", "Video delivered and published."),
}


def plan_stage(ctx: DemoContext, plan: FactoryPlan) -> None:
    """When the factory entered its stage, when it stopped if paused or churned, its history."""
    rng = ctx.rng
    plan.row.update(stage_entered_at=None, paused_at=None)
    if plan.stage is None:
        return
    low, high = STAGE_AGE_DAYS[plan.stage]
    entered = ctx.now - timedelta(days=rng.uniform(low, high))
    if plan.eligible:  # chosen beforehand: it had the time to finish its checklist
        entered = min(entered, ctx.now - timedelta(days=rng.uniform(21, 60)))
    if plan.status in ("paused", "churned"):
        ago = rng.uniform(3, 60) if plan.status == "paused" else rng.uniform(20, 150)
        plan.stopped_at = ctx.now - timedelta(days=ago)
        entered = min(entered, plan.stopped_at - timedelta(days=rng.uniform(10, 60)))
    plan.row["stage_entered_at"] = entered
    if plan.status == "paused":
        plan.row["paused_at"] = plan.stopped_at
    plan.eligible = plan.eligible or (
        plan.status == "active"
        and next_stage(plan.stage) is not None
        and ctx.now - entered > timedelta(days=20)
        and rng.random() < ELIGIBLE_SHARE
    )
    plan.asks_promotion = plan.asks_promotion or (plan.eligible and rng.random() < 0.5)
    plan.stage_changes = _history(ctx, plan, entered)


def _history(ctx: DemoContext, plan: FactoryPlan, entered: datetime) -> list[dict]:
    """Signing, each promotion up to the current stage, and a pause or churn: all approved."""
    rng = ctx.rng
    rows = []
    decided = entered
    for index in range(STAGES.index(plan.stage), -1, -1):
        from_stage = STAGES[index - 1] if index else None
        reason = (
            "Checklist complete; asking for promotion." if index else "签约合作，进入小学阶段。"
        )
        rows.append(
            _change(
                ctx,
                plan,
                ("prospect", None) if index == 0 else ("active", from_stage),
                ("active", STAGES[index]),
                decided,
                reason,
            )
        )
        decided -= timedelta(days=rng.uniform(25, 120))
    rows.reverse()
    if plan.stopped_at is not None:
        reason = (
            "旺季订单太多，暂停线上运营。" if plan.status == "paused" else "老板决定不做线上了。"
        )
        rows.append(
            _change(
                ctx,
                plan,
                ("active", plan.stage),
                (plan.status, plan.stage),
                plan.stopped_at,
                reason,
            )
        )
    return rows


def _change(
    ctx: DemoContext,
    plan: FactoryPlan,
    source: tuple[str, str | None],
    target: tuple[str, str | None],
    decided_at: datetime | None,
    reason: str,
) -> dict:
    requested_at = (decided_at or ctx.now) - timedelta(hours=ctx.rng.uniform(2, 72))
    return {
        "from_status": source[0],
        "from_stage": source[1],
        "to_status": target[0],
        "to_stage": target[1],
        "requested_by_id": plan.owner_id,
        "requested_at": requested_at,
        "decision": "approved" if decided_at else "pending",
        "decided_by_id": ctx.team_managers[plan.team] if decided_at else None,
        "decided_at": decided_at,
        "reason": reason,
        "decision_note": "",
        "is_override": False,
    }


def plan_checklist(ctx: DemoContext, plan: FactoryPlan) -> None:
    """Tasks copied from the stage's templates, snapshots of its measured metrics, eligibility."""
    if plan.stage is None:
        return
    templates = ctx.templates.get(plan.stage, [])
    # A factory the demo did not make eligible keeps one required item unfinished, so that
    # the eligibility sweep agrees with the eligible_since written here.
    blockers = [t for t in templates if t.required and t.kind != "measured"]
    blocker = None if plan.eligible or not blockers else ctx.rng.choice(blockers)
    plan.tasks = [_task(ctx, plan, template, template is blocker) for template in templates]
    measured = [t for t in templates if t.kind == "measured"]
    plan.snapshots = _snapshots(ctx, plan, measured, must_miss=not (plan.eligible or blockers))
    if plan.eligible:
        moments = [row["completed_at"] or row["verified_at"] for row in plan.tasks]
        moments += [row["entered_at"] for row in plan.snapshots]
        since = max([plan.row["stage_entered_at"], *[m for m in moments if m]])
        plan.row["eligible_since"] = since
        if plan.asks_promotion:
            request = _change(
                ctx,
                plan,
                ("active", plan.stage),
                ("active", next_stage(plan.stage)),
                None,
                "All required items done and figures met.",
            )
            request["requested_at"] = since + (ctx.now - since) * ctx.rng.uniform(0.2, 0.9)
            plan.stage_changes.append(request)


def _task(ctx: DemoContext, plan: FactoryPlan, template: PlainTemplate, blocks: bool) -> dict:
    entered = plan.row["stage_entered_at"]
    row = blank_row(Task)
    row.update(template.copied)
    due_on = ctx.day_of(entered) + timedelta(days=template.due_offset_days)
    row.update(owner_id=plan.owner_id, due_on=due_on, created_at=entered, updated_at=entered)
    status = _task_status(ctx, plan, template, due_on)
    row["status"] = ctx.rng.choice(("open", "submitted")) if blocks else status
    if row["status"] != "open" or ctx.rng.random() < 0.15:
        _fill_progress(ctx, plan, row)
    return row


def _task_status(ctx: DemoContext, plan: FactoryPlan, template: PlainTemplate, due_on: date) -> str:
    rng = ctx.rng
    if template.kind == "measured":
        return "open"  # judged from the latest snapshot, never ticked
    if plan.eligible:
        if template.required:
            return "waived" if rng.random() < 0.05 else "done"
        return rng.choice(("done", "open"))
    weights = PAST_DUE_WEIGHTS if due_on < ctx.day_of(plan.stopped_at or ctx.now) else WEIGHTS
    return rng.choices(TASK_OUTCOMES, weights)[0]


def _fill_progress(ctx: DemoContext, plan: FactoryPlan, row: dict) -> None:
    """Evidence, verification and times that fit the task's status and kind."""
    rng = ctx.rng
    entered = plan.row["stage_entered_at"]
    end = (plan.stopped_at or ctx.now) - timedelta(hours=1)
    moment = entered + (end - entered) * rng.uniform(0.1, 0.9)
    if row["status"] == "waived":
        row.update(
            waive_reason=rng.choice(WAIVE_REASONS),
            verified_by_id=ctx.team_managers[plan.team],
            verified_at=moment,
            updated_at=moment,
        )
        return
    _fill_evidence(ctx, row, moment)
    row["updated_at"] = moment
    if row["status"] == "done":
        row.update(verified_by_id=plan.owner_id, verified_at=moment, completed_at=moment)
    elif row["status"] == "open":
        row["send_back_reason"] = rng.choice(SEND_BACK_REASONS)


def _fill_evidence(ctx: DemoContext, row: dict, moment: datetime) -> None:
    rng = ctx.rng
    kind = row["kind"]
    if kind == "video_shoot":
        row["shoot_on"] = ctx.day_of(moment) - timedelta(days=rng.randint(0, 4))
        row["video_url"] = f"https://video.example.com/v/{uuid.UUID(int=rng.getrandbits(128)).hex}"
    if kind == "team_role":
        row["evidence_note"] = f"负责人：{person_name(rng)}"
    elif kind in EVIDENCE_NOTES:
        row["evidence_note"] = rng.choice(EVIDENCE_NOTES[kind])
    if kind == "custom" and rng.random() < 0.5:
        row["evidence_link"] = f"https://shop.example.com/proof/{rng.getrandbits(32):08x}"


def _snapshots(
    ctx: DemoContext, plan: FactoryPlan, measured: list[PlainTemplate], must_miss: bool
) -> list[dict]:
    """The last three to six months of each measured metric; the latest meets its target or not.

    With `must_miss`, the first metric's latest figure misses its target.
    """
    rng = ctx.rng
    by_metric = {t.metric_code: t for t in reversed(measured)}  # the first template wins
    if not by_metric:
        return []
    last = _month_before(ctx.day_of(plan.stopped_at or ctx.now))
    if not plan.eligible and (plan.stopped_at or rng.random() < STALE_FIGURES_SHARE):
        last = _month_before(_month_before(last))
    # Three to six months, none before the month the factory was first recorded.
    first = plan.row["created_at"].astimezone(ctx.zone).date().replace(day=1)
    months = [last]
    for _ in range(rng.randint(2, 5)):
        if _month_before(months[0]) < first:
            break
        months.insert(0, _month_before(months[0]))
    # A month's figures are entered together, a few days after it ends.
    entered = [_entered_at(ctx, month, plan.row["created_at"]) for month in months]
    rows = []
    for position, (code, template) in enumerate(by_metric.items()):
        meets = plan.eligible or (rng.random() < MEETS_SHARE and not (must_miss and position == 0))
        values = _series(ctx, template, meets, len(months))
        for month, value, at in zip(months, values, entered, strict=True):
            rows.append(
                {
                    "metric_code": code,
                    "month": month,
                    "value": value,
                    "entered_by_id": plan.owner_id,
                    "entered_at": at,
                }
            )
    return rows


def _month_before(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def _entered_at(ctx: DemoContext, month: date, created: datetime) -> datetime:
    """A few days after the month's end, after the factory was recorded, and before now."""
    next_month = (month + timedelta(days=32)).replace(day=1)
    instant = ctx.at(next_month + timedelta(days=ctx.rng.randint(0, 7)), ctx.rng.randint(9, 18))
    instant = max(instant, created + timedelta(hours=1))
    return min(instant, ctx.now - timedelta(minutes=ctx.rng.randint(1, 30)))


def _series(ctx: DemoContext, template: PlainTemplate, meets: bool, count: int) -> list[Decimal]:
    """Monthly figures that improve towards a last value on the chosen side of the target."""
    rng = ctx.rng
    metric = ctx.metrics[template.metric_code]
    target = float(template.target_value)
    fallback = (target * 0.5, max(target * 1.5, 1.0), 2)
    low, high, places = METRIC_RANGES.get(template.metric_code, fallback)
    step = 10**-places
    if template.comparison == "at_least":
        better = 1
        worse = rng.uniform(min(low, target - step), target - step)
        last = rng.uniform(target, max(high, target)) if meets else worse
    else:
        better = -1
        worse = rng.uniform(target + step, max(high, target + step))
        last = rng.uniform(min(low, target), target) if meets else worse
    drift = (high - low) * 0.03
    values = [last - better * drift * (count - 1 - i) + rng.gauss(0, drift) for i in range(count)]
    values[-1] = last
    floor = float(metric.min_value) if metric.min_value is not None else float("-inf")
    ceiling = float(metric.max_value) if metric.max_value is not None else float("inf")
    return [_quantise(min(max(value, floor), ceiling), places) for value in values]


def _quantise(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}")
