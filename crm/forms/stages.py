"""Forms of the admin's stage and checklist pages: shape only, the rules are in the service."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from crm.forms import NamedLength, PageForm
from crm.models import Metric
from crm.models.stage import TITLE_MAX
from crm.services.growth.checklists import (
    DESCRIPTION_MAX,
    NAME_EN_REQUIRED,
    NAME_MAX,
    NAME_ZH_REQUIRED,
    STAGE_FIELDS,
    TEMPLATE_FIELDS,
    TITLE_EN_REQUIRED,
    TITLE_ZH_REQUIRED,
)

WHOLE_DAYS = _l("Enter a whole number of days, e.g. 14.")
NUMBER = _l("Enter the target as a number, e.g. 80 or 4.5.")

KIND_LABELS = {
    "video_shoot": _l("Video shoot"),
    "measured": _l("Measured against a target"),
    "team_role": _l("Team role named"),
    "brand": _l("Brand"),
    "custom": _l("Other (ticked when done)"),
}
COMPARISON_LABELS = {"at_least": _l("at least"), "at_most": _l("at most")}
COMPARISON_SIGNS = {"at_least": "≥", "at_most": "≤"}
UNIT_LABELS = {
    "percent": "%",
    "minutes": _l("min"),
    "points": _l("points"),
    "count": "",
    "yuan": _l("yuan"),
}


def number(value: Decimal | int) -> str:
    """A figure in the user's locale, grouped, without trailing zeros: 10,000 · 4.5."""
    return format_decimal(value, format="#,##0.####")


def amount(value: Decimal | int, unit: str) -> str:
    """A figure with its unit: "80 %", "4.5 points", "10,000"."""
    label = str(UNIT_LABELS.get(unit, unit))
    return f"{number(value)} {label}".strip()


def metric_range(metric: Metric) -> str:
    """The values a metric can take: "0–100 %", "0 or more yuan"."""
    low, high = metric.min_value, metric.max_value
    if low is not None and high is not None:
        return f"{number(low)}–{amount(high, metric.unit)}"
    if low is not None:
        return _("%(amount)s or more", amount=amount(low, metric.unit))
    if high is not None:
        return _("up to %(amount)s", amount=amount(high, metric.unit))
    return str(UNIT_LABELS.get(metric.unit, metric.unit))


def metric_choices(metrics: Iterable[Metric], locale: str) -> list[SelectChoice]:
    """The metric select: no target first, then each metric with its name and range."""
    choices = [SelectChoice("", _("No target"))]
    for metric in metrics:
        label = f"{metric.name_for(locale)} ({metric_range(metric)})"
        choices.append(SelectChoice(metric.code, label))
    return choices


def _choices(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in labels.items()]


class WholeNumberField(IntegerField):
    """A whole number typed on a phone's number pad."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("invalid_value_message", WHOLE_DAYS)
        render_kw = {"inputmode": "numeric", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)


class PlainDecimalField(DecimalField):
    """A decimal shown as typed, or without trailing zeros when it comes from the record."""

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        render_kw = {"inputmode": "decimal", **kwargs.pop("render_kw", {})}
        kwargs.setdefault("invalid_value_message", NUMBER)
        super().__init__(label, validators, places=None, render_kw=render_kw, **kwargs)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        text = format(self.data, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text


class StageForm(PageForm):
    name_en = StringField(
        _l("Name in English"),
        validators=[DataRequired(NAME_EN_REQUIRED), NamedLength(max=NAME_MAX)],
    )
    name_zh = StringField(
        _l("Name in Chinese"),
        validators=[DataRequired(NAME_ZH_REQUIRED), NamedLength(max=NAME_MAX)],
        render_kw={"lang": "zh-Hans"},
    )
    description_en = TextAreaField(
        _l("Description in English"),
        validators=[Optional(), NamedLength(max=DESCRIPTION_MAX)],
        render_kw={"rows": 3},
    )
    description_zh = TextAreaField(
        _l("Description in Chinese"),
        validators=[Optional(), NamedLength(max=DESCRIPTION_MAX)],
        render_kw={"rows": 3, "lang": "zh-Hans"},
    )
    cadence_days = WholeNumberField(
        _l("Visit every (days)"),
        validators=[InputRequired(WHOLE_DAYS)],
        description=_l("How often a rep visits a factory in this stage: 1 to 365 days."),
    )

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in STAGE_FIELDS}


class TemplateForm(PageForm):
    title_en = StringField(
        _l("Title in English"),
        validators=[DataRequired(TITLE_EN_REQUIRED), NamedLength(max=TITLE_MAX)],
    )
    title_zh = StringField(
        _l("Title in Chinese"),
        validators=[DataRequired(TITLE_ZH_REQUIRED), NamedLength(max=TITLE_MAX)],
        render_kw={"lang": "zh-Hans"},
    )
    # The choices are checked by the service, whose message says how to put it right.
    kind = SelectField(
        _l("Kind"), choices=_choices(KIND_LABELS), validate_choice=False, default="custom"
    )
    required = BooleanField(
        _l("Required for promotion"),
        default=True,
        description=_l("A factory moves up only when every required item is done or waived."),
    )
    due_offset_days = WholeNumberField(
        _l("Due after (days)"),
        validators=[InputRequired(WHOLE_DAYS)],
        default=30,
        description=_l("Counted from the day the factory enters the stage: 0 to 3650."),
    )
    metric_code = SelectField(_l("Metric"), choices=[], validate_choice=False)
    comparison = SelectField(
        _l("The figure must be"),
        choices=_choices(COMPARISON_LABELS),
        validate_choice=False,
        default="at_least",
    )
    target_value = PlainDecimalField(
        _l("Target value"),
        validators=[Optional()],
        description=_l("In the metric's unit; percentages run from 0 to 100."),
    )

    def __init__(self, *args: Any, metrics: Iterable[Metric] = (), locale: str = "en", **kwargs):
        super().__init__(*args, **kwargs)
        self.metric_code.choices = metric_choices(metrics, locale)

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name).data for name in TEMPLATE_FIELDS}
