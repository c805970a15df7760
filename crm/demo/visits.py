"""Demo data, part three: visits and follow-ups, and the times a factory keeps for fast lists."""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import datetime, timedelta

from crm.demo.factories import DemoContext, FactoryPlan, blank_row, offset_position
from crm.models import FollowUp, Visit

AGENDA_GROUPS = ("overdue", "today", "upcoming")
AGENDA_WEIGHTS = (15, 5, 80)
OFF_SITE_SHARE = 0.06
LATER_PURPOSES = ("training", "follow_up", "video_shoot", "promotion_review", "other")
LATER_WEIGHTS = (3, 4, 2, 1, 1)
EARTH_RADIUS_M = 6_371_000
# purpose: (internal notes, summary shared with the factory) pairs.
TEXTS = {
    "first_contact": (
        ("老板对线上渠道有兴趣，想先看同行案例。", "介绍了平台和合作方式，下次带案例来。"),
        ("Owner curious but busy; talk to his daughter next time.", "Introduced the platform."),
    ),
    "assessment": (
        ("产能稳定，缺少线上运营人员。", "评估了产能与产品线，下次确定开店方案。"),
        ("Good workshop, weak photos of products.", "Walked the workshop and product range."),
    ),
    "training": (
        ("客服回复慢，要继续盯快捷回复。", "完成客服与发货流程培训。"),
        ("Trained two staff on order handling.", "Training on orders and after-sales."),
    ),
    "video_shoot": (
        ("拍了车间和三款主推产品，光线一般。", "拍摄了车间与主推产品视频。"),
        ("Shot the best sellers; redo the packing scene.", "Filmed the best sellers together."),
    ),
    "follow_up": (
        ("上月发货率下滑，老板说是缺人手。", "一起看了上月数据，约定改进发货。"),
        ("Checked last month's figures; refunds up.", "Reviewed last month's figures together."),
    ),
    "promotion_review": (
        ("清单基本完成，准备提交晋级。", "一起核对了本阶段清单。"),
        ("All items but one done; figures look fine.", "Went through the checklist together."),
    ),
    "other": (
        ("送新版产品目录，顺便看了样品间。", "送来新版产品目录。"),
        ("Dropped off the contract copy.", "Brought the signed contract copy."),
    ),
}
FOLLOW_UP_REASONS = {
    "cadence": ("Regular visit", "例行拜访"),
    "visit": ("Check the new photos", "确认发货改进", "跟进视频拍摄", "Bring the training slides"),
}


def assign_agenda_groups(plans: list[FactoryPlan], rep_id: int) -> None:
    """The demo rep's first open follow-ups go in turn to overdue, today and the next days."""
    followed = [p for p in plans if p.owner_id == rep_id and p.status in ("active", "prospect")]
    for index, plan in enumerate(followed[:12]):
        plan.agenda_group = AGENDA_GROUPS[index % len(AGENDA_GROUPS)]


MAX_VISITS = 30  # a factory's visits in the demo, at most


def plan_visits(ctx: DemoContext, plan: FactoryPlan) -> None:
    """Visits, the follow-ups they answered, the open one, and created/last-visit/next times."""
    rng = ctx.rng
    if plan.owner_id is None:
        created = ctx.now - timedelta(days=rng.uniform(1, 90))
        plan.row.update(created_at=created, updated_at=created)
        plan.row.update(last_visit_at=None, next_follow_up_at=None)
        return
    cadence = ctx.cadence[plan.stage or "prospect"]
    open_row = None
    if plan.stopped_at is None:
        open_row, last = _open_follow_up(ctx, plan, cadence)
    else:
        last = ctx.working_time(ctx.day_of(plan.stopped_at) - timedelta(days=rng.randint(1, 20)))
    times = [last]
    if plan.stage is None:
        for _ in range(rng.randint(1, 3)):
            gap = max(1, round(cadence * rng.uniform(0.6, 1.4)))
            times.insert(0, ctx.working_time(ctx.day_of(times[0]) - timedelta(days=gap)))
    else:
        # A signed factory was visited at about its cadence since it signed (a university
        # factory of two years has some twenty visits): about ten a factory at scale.
        signed = min(row["requested_at"] for row in plan.stage_changes)
        while len(times) < MAX_VISITS:
            gap = max(1, round(cadence * rng.uniform(0.6, 1.4)))
            before = ctx.working_time(ctx.day_of(times[0]) - timedelta(days=gap))
            if before <= signed and len(times) > 1:
                break
            times.insert(0, before)
        first = min(signed, times[0]) - timedelta(days=rng.randint(3, 30))
        times.insert(0, ctx.working_time(ctx.day_of(first)))
    plan.visits = [_visit(ctx, plan, at, index) for index, at in enumerate(times)]
    plan.follow_ups = _answered_follow_ups(ctx, plan, cadence)
    if open_row is not None:
        open_row["created_at"] = plan.visits[-1]["received_at"]
        plan.follow_ups.append(open_row)
    elif plan.status == "paused":
        plan.follow_ups.append(_cancelled(ctx, plan, cadence))
    created = times[0] - timedelta(days=rng.uniform(0.5, 5))
    plan.row.update(
        created_at=created,
        updated_at=max(plan.visits[-1]["received_at"], created),
        last_visit_at=last,
        next_follow_up_at=open_row["due_at"] if open_row else None,
    )


def _open_follow_up(ctx: DemoContext, plan: FactoryPlan, cadence: int) -> tuple[dict, datetime]:
    """The factory's one open follow-up and the last visit it follows from."""
    rng = ctx.rng
    group = plan.agenda_group or rng.choices(AGENDA_GROUPS, AGENDA_WEIGHTS)[0]
    if group == "today":
        midnight = ctx.at(ctx.today + timedelta(days=1), 0)
        due = ctx.now + (midnight - ctx.now) * rng.uniform(0.35, 0.9)
        return _follow_up(ctx, plan, due, "cadence", "open"), due - timedelta(days=cadence)
    if group == "upcoming":
        limit = min(6, cadence - 1) if plan.agenda_group else cadence - 1
        ahead = rng.randint(1, max(1, limit))
    else:
        stale = not plan.agenda_group and rng.random() < 0.2
        ahead = -rng.randint(cadence, 2 * cadence) if stale else -rng.randint(1, min(cadence, 5))
    due_day = ctx.today + timedelta(days=ahead)
    if rng.random() < 0.5:
        last = ctx.working_time(due_day - timedelta(days=cadence))
        return _follow_up(ctx, plan, last + timedelta(days=cadence), "cadence", "open"), last
    interval = rng.randint(max(1, ahead + 1), max(ahead + 1, cadence))
    last = ctx.working_time(due_day - timedelta(days=interval))
    return _follow_up(ctx, plan, ctx.at(due_day, 10), "visit", "open"), last


def _follow_up(
    ctx: DemoContext, plan: FactoryPlan, due: datetime, origin: str, status: str
) -> dict:
    row = blank_row(FollowUp)
    row.update(
        assignee_id=plan.owner_id,
        due_at=due,
        reason=ctx.rng.choice(FOLLOW_UP_REASONS[origin]),
        origin=origin,
        status=status,
        created_by_id=plan.owner_id if origin == "visit" else None,
    )
    return row


def _answered_follow_ups(ctx: DemoContext, plan: FactoryPlan, cadence: int) -> list[dict]:
    """Each visit after the first answered the follow-up that the one before it left."""
    rows = []
    for index in range(1, len(plan.visits)):
        before, visit = plan.visits[index - 1], plan.visits[index]
        if ctx.rng.random() < 0.5:
            due, origin = before["checked_in_at"] + timedelta(days=cadence), "cadence"
        else:
            day = ctx.day_of(before["checked_in_at"]) + timedelta(days=ctx.rng.randint(1, cadence))
            due, origin = ctx.at(day, 10), "visit"
        row = _follow_up(ctx, plan, due, origin, "done")
        row.update(
            completed_at=visit["received_at"],
            completed_by_visit_id=index,  # the visit's place in plan.visits until it has an id
            created_at=before["received_at"],
        )
        rows.append(row)
    return rows


def _cancelled(ctx: DemoContext, plan: FactoryPlan, cadence: int) -> dict:
    row = _follow_up(
        ctx,
        plan,
        plan.visits[-1]["checked_in_at"] + timedelta(days=cadence),
        "cadence",
        "cancelled",
    )
    row["created_at"] = plan.visits[-1]["received_at"]
    return row


def _visit(ctx: DemoContext, plan: FactoryPlan, checked_in: datetime, index: int) -> dict:
    rng = ctx.rng
    if index == 0:
        purpose = "first_contact"
    elif plan.stage is None or checked_in < plan.row["stage_entered_at"]:
        purpose = "assessment" if plan.stage else "follow_up"
    else:
        purpose = rng.choices(LATER_PURPOSES, LATER_WEIGHTS)[0]
    notes, summary = rng.choice(TEXTS[purpose])
    delay = timedelta(
        seconds=rng.uniform(3, 120) if rng.random() < 0.9 else rng.uniform(600, 86400)
    )
    received = min(checked_in + delay, ctx.now)
    client_key = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    row = blank_row(Visit)
    row.update(
        rep_id=plan.owner_id,
        purpose=purpose,
        checked_in_at=checked_in,
        utc_offset_minutes=int(checked_in.astimezone(ctx.zone).utcoffset().total_seconds() // 60),
        received_at=received,
        notes=notes,
        summary=summary,
        # The factory's first contact is met at most visits; resolved to an id once inserted.
        contact_id=0 if rng.random() < 0.7 else None,
        client_key=client_key,
        fingerprint=hashlib.sha256(f"{client_key}:{checked_in.isoformat()}".encode()).hexdigest(),
        created_at=received,
        # The demo's visits carry no photos, so none repeats an earlier one.
        photos_doubtful=False,
        # The demo's reps shared their position at these check-ins.
        position_withheld=False,
    )
    row.update(_position(ctx, plan, checked_in))
    return row


def _position(ctx: DemoContext, plan: FactoryPlan, checked_in: datetime) -> dict:
    """Where the phone said it was: near the factory, now and then off-site for one reason."""
    rng = ctx.rng
    distance, accuracy, age = rng.uniform(3, 150), rng.uniform(4, 40), rng.uniform(1, 60)
    if rng.random() < OFF_SITE_SHARE:
        reason = rng.choice(("far", "vague", "old"))
        if reason == "far":
            distance = rng.uniform(ctx.radius_m + 100, 3000)
        elif reason == "vague":
            accuracy = rng.uniform(ctx.accuracy_m + 20, 400)
        else:
            age = rng.uniform(ctx.position_max_age_s + 30, 900)
    factory_lat, factory_lng = plan.row["lat"], plan.row["lng"]
    lat, lng = offset_position(rng, factory_lat, factory_lng, distance)
    measured = distance_m(factory_lat, factory_lng, lat, lng)
    return {
        "lat": round(lat, 6),
        "lng": round(lng, 6),
        "accuracy_m": round(accuracy, 1),
        "position_at": checked_in - timedelta(seconds=age),
        "distance_m": round(measured, 1),
        "off_site": (
            measured > ctx.radius_m or accuracy > ctx.accuracy_m or age > ctx.position_max_age_s
        ),
    }


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
