"""Growth stages as data: stage definitions, their checklist templates and the metric catalogue."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db
from crm.models.user import _in

# The four stages in order; a prospect has no stage but has a cadence of its own.
STAGES = ("elementary", "junior", "senior", "university")
PROSPECT = "prospect"
CADENCE_CODES = (PROSPECT, *STAGES)
TASK_KINDS = ("video_shoot", "measured", "team_role", "brand", "custom")
COMPARISONS = ("at_least", "at_most")
METRIC_UNITS = ("percent", "minutes", "points", "count", "yuan")
DIRECTIONS = ("higher", "lower")
TITLE_MAX = 200
METRIC_CODE_MAX = 40


def next_stage(stage: str | None) -> str | None:
    if stage is None:
        return STAGES[0]
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


class StageDefinition(db.Model):
    __tablename__ = "stage_definitions"
    __table_args__ = (
        CheckConstraint(_in("code", CADENCE_CODES), name="code"),
        CheckConstraint("cadence_days BETWEEN 1 AND 365", name="cadence_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str] = mapped_column(String(100))
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_zh: Mapped[str] = mapped_column(Text, default="")
    cadence_days: Mapped[int] = mapped_column(Integer)

    templates = relationship(
        "TaskTemplate", back_populates="stage", order_by="TaskTemplate.position"
    )


class Metric(db.Model):
    """A figure measured on the marketplace, against which measured tasks are judged."""

    __tablename__ = "metrics"
    __table_args__ = (
        CheckConstraint(_in("unit", METRIC_UNITS), name="unit"),
        CheckConstraint(_in("direction", DIRECTIONS), name="direction"),
        CheckConstraint(
            "min_value IS NULL OR max_value IS NULL OR min_value <= max_value", name="range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(METRIC_CODE_MAX), unique=True)
    name_en: Mapped[str] = mapped_column(String(100))
    name_zh: Mapped[str] = mapped_column(String(100))
    unit: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(6))
    min_value: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    max_value: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))

    def name_for(self, locale: str) -> str:
        return self.name_zh if locale.startswith("zh") else self.name_en


class TaskTemplate(db.Model):
    """One checklist item of a stage; tasks copy it when a factory enters the stage."""

    __tablename__ = "task_templates"
    __table_args__ = (
        CheckConstraint(_in("kind", TASK_KINDS), name="kind"),
        CheckConstraint(
            f"comparison IS NULL OR {_in('comparison', COMPARISONS)}", name="comparison"
        ),
        CheckConstraint(
            "kind != 'measured' OR (metric_code IS NOT NULL AND comparison IS NOT NULL "
            "AND target_value IS NOT NULL)",
            name="measured_has_target",
        ),
        CheckConstraint("due_offset_days BETWEEN 0 AND 3650", name="due_offset_days"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_code: Mapped[str] = mapped_column(
        ForeignKey("stage_definitions.code", onupdate="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    title_en: Mapped[str] = mapped_column(String(TITLE_MAX))
    title_zh: Mapped[str] = mapped_column(String(TITLE_MAX))
    kind: Mapped[str] = mapped_column(String(12))
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    due_offset_days: Mapped[int] = mapped_column(Integer, default=0)
    metric_code: Mapped[str | None] = mapped_column(ForeignKey("metrics.code", onupdate="CASCADE"))
    comparison: Mapped[str | None] = mapped_column(String(8))
    target_value: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    # A retired template creates no new tasks; the tasks it made stay.
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    stage = relationship("StageDefinition", back_populates="templates")
    metric = relationship("Metric")
