"""Stage checklists as data: an admin edits stages and their task templates (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.models import PROSPECT, Metric, StageDefinition, TaskTemplate, User
from crm.models.stage import COMPARISONS, TASK_KINDS, TITLE_MAX
from crm.services.growth import snapshots
from crm.services.install import audit

# Limits shared with the forms; the column lengths are read from the model, not repeated.
NAME_MAX: int = StageDefinition.__table__.c.name_en.type.length
DESCRIPTION_MAX = 2000
CADENCE_MIN, CADENCE_MAX = 1, 365  # the stage_definitions CHECK constraint
DUE_OFFSET_MIN, DUE_OFFSET_MAX = 0, 3650  # the task_templates CHECK constraint
TARGET_PLACES = 4  # Numeric(16, 4)
TARGET_LIMIT = Decimal(10) ** (16 - TARGET_PLACES)

TITLE_EN_REQUIRED = _l("Enter the title in English.")
TITLE_ZH_REQUIRED = _l("Enter the title in Chinese.")
NAME_EN_REQUIRED = _l("Enter the name in English.")
NAME_ZH_REQUIRED = _l("Enter the name in Chinese.")

STAGE_FIELDS = ("name_en", "name_zh", "description_en", "description_zh", "cadence_days")
TEMPLATE_FIELDS = (
    "title_en",
    "title_zh",
    "kind",
    "required",
    "due_offset_days",
    "metric_code",
    "comparison",
    "target_value",
)


@dataclass
class StageSummary:
    """A stage with its checklist counted, for the list of stages."""

    stage: StageDefinition
    items: int
    required: int
    retired: int


# --- reading ---------------------------------------------------------------------------------


def stage_summaries() -> list[StageSummary]:
    """Every stage in order (prospect first) with its active, required and retired items."""
    stages = db.session.scalars(
        select(StageDefinition)
        .options(selectinload(StageDefinition.templates))
        .order_by(StageDefinition.position)
    ).all()
    summaries = []
    for stage in stages:
        active = [template for template in stage.templates if template.active]
        summaries.append(
            StageSummary(
                stage=stage,
                items=len(active),
                required=sum(1 for template in active if template.required),
                retired=len(stage.templates) - len(active),
            )
        )
    return summaries


def get_stage(stage_id: int) -> StageDefinition:
    stage = db.session.get(StageDefinition, stage_id)
    if stage is None:
        raise NotFound(_("There is no such stage."))
    return stage


def get_template(template_id: int) -> TaskTemplate:
    template = db.session.get(TaskTemplate, template_id)
    if template is None:
        raise NotFound(_("There is no such checklist item."))
    return template


def get_checklist_stage(stage_id: int) -> StageDefinition:
    """A stage that can hold checklist items: any stage but the prospect."""
    stage = get_stage(stage_id)
    if not has_checklist(stage):
        raise NotFound(_("A prospect has no checklist: tasks start when a factory enters stage 1."))
    return stage


def has_checklist(stage: StageDefinition) -> bool:
    """A prospect has a cadence but no checklist: tasks start when a factory enters stage 1."""
    return stage.code != PROSPECT


def templates_of(stage: StageDefinition) -> list[TaskTemplate]:
    """The stage's checklist in order, retired items included, with their metrics."""
    return list(
        db.session.scalars(
            select(TaskTemplate)
            .options(selectinload(TaskTemplate.metric))
            .where(TaskTemplate.stage_code == stage.code)
            .order_by(TaskTemplate.position, TaskTemplate.id)
        )
    )


def metrics() -> list[Metric]:
    """The metric catalogue, in a stable order, for choosing a target's metric."""
    return list(snapshots.metric_catalogue().values())


# --- the stage -------------------------------------------------------------------------------


def update_stage(actor: User, stage: StageDefinition, values: dict[str, Any]) -> StageDefinition:
    """Change a stage's names, descriptions and visit cadence; audits the changed fields."""
    errors: dict[str, str] = {}
    clean = {
        "name_en": _text(values.get("name_en")),
        "name_zh": _text(values.get("name_zh")),
        "description_en": _text(values.get("description_en")),
        "description_zh": _text(values.get("description_zh")),
        "cadence_days": values.get("cadence_days"),
    }
    for name, missing in (("name_en", NAME_EN_REQUIRED), ("name_zh", NAME_ZH_REQUIRED)):
        problem = _length_problem(clean[name], NAME_MAX, missing)
        if problem:
            errors[name] = problem
    for name in ("description_en", "description_zh"):
        problem = _length_problem(clean[name], DESCRIPTION_MAX, None)
        if problem:
            errors[name] = problem
    problem = _whole_number_problem(clean["cadence_days"], CADENCE_MIN, CADENCE_MAX)
    if problem:
        errors["cadence_days"] = problem
    if errors:
        raise Invalid(_("The stage was not saved."), fields=errors)
    changes = audit.diff(_fields(stage, STAGE_FIELDS), clean)
    for name, (_before, after) in changes.items():
        setattr(stage, name, after)
    if changes:
        db.session.flush()
        audit.record(actor, "stage_definition", stage.id, "update", changes)
    return stage


# --- its checklist ---------------------------------------------------------------------------


def save_template(
    actor: User,
    stage: StageDefinition,
    template: TaskTemplate | None,
    values: dict[str, Any],
) -> TaskTemplate:
    """Add a checklist item to the stage (template None) or change one; audits the change.

    Only the template changes: the tasks that factories already have copied its fields
    when they were made and keep them (DESIGN.md "Task").
    """
    if template is not None and template.stage_code != stage.code:
        raise NotFound(_("There is no such checklist item."))
    if not has_checklist(stage):
        raise Invalid(_("A prospect has no checklist: tasks start when a factory enters stage 1."))
    clean, errors = _clean_template(stage, template, values)
    if errors:
        raise Invalid(_("The checklist item was not saved."), fields=errors)
    if template is None:
        template = TaskTemplate(stage_code=stage.code, position=_next_position(stage), active=True)
        db.session.add(template)
        changes = {name: (None, value) for name, value in clean.items() if value is not None}
        action = "create"
    else:
        changes = audit.diff(_fields(template, TEMPLATE_FIELDS), clean)
        action = "update"
    for name, value in clean.items():
        setattr(template, name, value)
    db.session.flush()
    if changes:
        audit.record(actor, "task_template", template.id, action, changes)
    return template


def set_template_active(actor: User, template: TaskTemplate, active: bool) -> TaskTemplate:
    """Retire a checklist item (no new tasks from it; its tasks stay) or bring it back."""
    if template.active != active:
        before = template.active
        template.active = active
        db.session.flush()
        action = "reactivate" if active else "retire"
        audit.record(actor, "task_template", template.id, action, {"active": (before, active)})
    return template


def _clean_template(
    stage: StageDefinition, template: TaskTemplate | None, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {
        "title_en": _text(values.get("title_en")),
        "title_zh": _text(values.get("title_zh")),
        "kind": values.get("kind"),
        "required": bool(values.get("required")),
        "due_offset_days": values.get("due_offset_days"),
    }
    for name, missing in (("title_en", TITLE_EN_REQUIRED), ("title_zh", TITLE_ZH_REQUIRED)):
        problem = _length_problem(clean[name], TITLE_MAX, missing)
        if problem:
            errors[name] = problem
    if "title_en" not in errors and _title_taken(stage, template, clean["title_en"]):
        errors["title_en"] = _("This stage already has an item with this English title.")
    if clean["kind"] not in TASK_KINDS:
        errors["kind"] = _("Choose the kind of item from the list.")
    problem = _whole_number_problem(clean["due_offset_days"], DUE_OFFSET_MIN, DUE_OFFSET_MAX)
    if problem:
        errors["due_offset_days"] = problem
    clean.update(_clean_target(clean["kind"], values, errors))
    return clean, errors


def _clean_target(kind: str | None, values: dict[str, Any], errors: dict[str, str]) -> dict:
    """A measured item needs a metric, a comparison and a value in the metric's range."""
    code = _text(values.get("metric_code")) or None
    comparison = values.get("comparison") or None
    value = values.get("target_value")
    if isinstance(value, int) and not isinstance(value, bool):
        value = Decimal(value)
    if kind != "measured":
        # Only a measured item is judged against a figure; a stray target is refused, not
        # silently dropped, so that the admin sees the item will carry none.
        message = _(
            "Only a measured item has a target: choose the kind “Measured”, or clear the target."
        )
        if code:
            errors["metric_code"] = message
        if value is not None:
            errors["target_value"] = message
        return {"metric_code": None, "comparison": None, "target_value": None}
    metric = db.session.scalar(select(Metric).where(Metric.code == code)) if code else None
    if metric is None:
        errors["metric_code"] = _("Choose a metric from the catalogue.")
    if comparison not in COMPARISONS:
        errors["comparison"] = _("Choose “at least” or “at most”.")
    problem = _target_problem(value, metric)
    if problem:
        errors["target_value"] = problem
    elif value is not None:
        value = value.quantize(Decimal(1).scaleb(-TARGET_PLACES))
    return {"metric_code": code, "comparison": comparison, "target_value": value}


def _target_problem(value: Any, metric: Metric | None) -> str | None:
    if value is None:
        return _("Enter the target value, e.g. 80.")
    if not isinstance(value, Decimal) or not value.is_finite():
        return _("Enter the target as a number, e.g. 80 or 4.5.")
    if abs(value) >= TARGET_LIMIT:
        return _("Enter a value below %(limit)s.", limit=plain_number(TARGET_LIMIT))
    if value != value.quantize(Decimal(1).scaleb(-TARGET_PLACES)):
        return _("Use at most %(places)d decimal places.", places=TARGET_PLACES)
    if metric is None:
        return None
    low, high = metric.min_value, metric.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            return _("This metric cannot be below %(low)s.", low=plain_number(low))
        if low is None:
            return _("This metric cannot be above %(high)s.", high=plain_number(high))
        return _(
            "This metric runs from %(low)s to %(high)s: enter a value in that range.",
            low=plain_number(low),
            high=plain_number(high),
        )
    return None


# --- small helpers ---------------------------------------------------------------------------


def plain_number(value: Decimal | int) -> str:
    """A decimal without trailing zeros or an exponent: 80.0000 -> "80", 4.50 -> "4.5"."""
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _fields(record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in names}


def _length_problem(text: str, most: int, missing: Any) -> str | None:
    if not text and missing is not None:
        return str(missing)
    if len(text) > most:
        return _("Use at most %(max)d characters (now %(length)d).", max=most, length=len(text))
    return None


def _whole_number_problem(value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return _("Enter a whole number of days from %(low)d to %(high)d.", low=low, high=high)
    if not low <= value <= high:
        return _("Enter a number of days from %(low)d to %(high)d.", low=low, high=high)
    return None


def _title_taken(stage: StageDefinition, template: TaskTemplate | None, title: str) -> bool:
    # The catalogue recognises a default item by its stage and English title (install_defaults).
    statement = select(TaskTemplate.id).where(
        TaskTemplate.stage_code == stage.code, func.lower(TaskTemplate.title_en) == title.lower()
    )
    if template is not None and template.id is not None:
        statement = statement.where(TaskTemplate.id != template.id)
    return db.session.scalar(statement.limit(1)) is not None


def _next_position(stage: StageDefinition) -> int:
    last = db.session.scalar(
        select(func.max(TaskTemplate.position)).where(TaskTemplate.stage_code == stage.code)
    )
    return (last or 0) + 1
