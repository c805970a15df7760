"""Entering a stage: its tasks are made from its templates, once per factory and template."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from crm import clock
from crm.extensions import db
from crm.models import Factory, Task, TaskTemplate

TEMPLATE_FIELDS = (
    "title_en",
    "title_zh",
    "kind",
    "required",
    "metric_code",
    "comparison",
    "target_value",
)


def _insert_ignoring_existing():
    """INSERT ... ON CONFLICT DO NOTHING, which both databases speak."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(Task).on_conflict_do_nothing(index_elements=["factory_id", "template_id"])


def create_stage_tasks(factory: Factory, stage: str, now: datetime) -> int:
    """Make the tasks of a stage's active templates that the factory does not have yet.

    Re-entering a stage keeps the tasks it already has; two requests doing this at
    once cannot duplicate a task, because (factory, template) is unique and the insert
    skips what exists. Fields are copied, so later template edits leave tasks alone.
    Returns how many tasks were made.
    """
    templates = db.session.scalars(
        select(TaskTemplate)
        .where(TaskTemplate.stage_code == stage, TaskTemplate.active.is_(True))
        .order_by(TaskTemplate.position, TaskTemplate.id)
    ).all()
    existing = set(
        db.session.scalars(
            select(Task.template_id).where(
                Task.factory_id == factory.id, Task.template_id.is_not(None)
            )
        )
    )
    start = clock.today(now)
    rows = [
        {
            "factory_id": factory.id,
            "template_id": template.id,
            "stage": stage,
            "owner_id": factory.owner_id,
            "due_on": start + timedelta(days=template.due_offset_days),
            "status": "open",
            "created_at": now,
            "updated_at": now,
            **{name: getattr(template, name) for name in TEMPLATE_FIELDS},
        }
        for template in templates
        if template.id not in existing
    ]
    if not rows:
        return 0
    db.session.connection().execute(_insert_ignoring_existing(), rows)
    after = db.session.scalar(
        select(func.count())
        .select_from(Task)
        .where(
            Task.factory_id == factory.id,
            Task.template_id.in_([row["template_id"] for row in rows]),
        )
    )
    return int(after or 0)


def enter_stage(factory: Factory, stage: str, now: datetime) -> int:
    """Move the factory into a stage (time in stage starts now) and make the stage's tasks."""
    if factory.stage != stage or factory.stage_entered_at is None:
        factory.stage = stage
        factory.stage_entered_at = now
        factory.paused_days = 0
    db.session.flush()
    return create_stage_tasks(factory, stage, now)
