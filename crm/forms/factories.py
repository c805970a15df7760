"""Forms of the staff's factory page: entering figures, and moving a factory's stage or status.

They check shape only; the rules (a metric's range, no future month, overrides and
their reasons) live in crm.services.snapshots and crm.services.promotions, whose
messages the view puts by these fields.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, MonthField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from crm.models.stage import METRIC_CODE_MAX
from crm.services.promotions import REASON_MAX

# What a person may type as a figure ("72.5", "72,5 %", "1 250 000"); the service parses it.
VALUE_TEXT_MAX = 40


class SnapshotForm(FlaskForm):
    """A month's figure for one metric; the metric's choices come from the catalogue."""

    metric = SelectField(
        _l("Figure"),
        validators=[
            InputRequired(_l("Choose a figure from the list.")),
            Length(max=METRIC_CODE_MAX),
        ],
    )
    month = MonthField(
        _l("Month"),
        validators=[InputRequired(_l("Choose the month the figure is for."))],
        description=_l("The month the figure covers; this month or earlier."),
    )
    value = StringField(
        _l("Value"),
        validators=[
            InputRequired(_l("Enter the figure, such as 72.5.")),
            Length(max=VALUE_TEXT_MAX, message=_l("This figure is too long.")),
        ],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
        description=_l("Percentages as 0 to 100."),
    )

    def __init__(self, *args, metric_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.metric.choices = [SelectChoice(value, label) for value, label in metric_choices]


def _reason(label: str) -> TextAreaField:
    message = _l("Keep it under %(max)d characters.", max=REASON_MAX)
    return TextAreaField(
        label, validators=[Length(max=REASON_MAX, message=message)], render_kw={"rows": 2}
    )


class StageChangeForm(FlaskForm):
    """A manager's or admin's move of status or stage, overrides included.

    The page holds up to three stage forms, each posted with its own field prefix
    (STAGE_FORMS). The request and promote forms send the target as hidden fields (the
    stage shown when the page was drawn), so a double tap cannot move a factory twice.
    """

    to_status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("active", _l("Active")),
            SelectChoice("paused", _l("Paused")),
            SelectChoice("churned", _l("Churned")),
        ],
        validators=[InputRequired(_l("Choose a status."))],
    )
    to_stage = SelectField(_l("Stage"), default="")
    override = BooleanField(_l("Override: the factory does not qualify for this move"))
    reason = _reason(_l("Reason"))

    def __init__(self, *args, stage_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.to_stage.choices = [SelectChoice(value, label) for value, label in stage_choices]


class PromoteForm(StageChangeForm):
    """A manager's direct promotion by one stage; an ineligible factory needs the override."""

    override = BooleanField(_l("Override: promote it although items are left"))
    reason = _reason(_l("Reason (needed for an override)"))


class PromotionRequestForm(StageChangeForm):
    """A rep's request to promote an eligible factory, with a note for the manager."""

    reason = _reason(_l("Note for the manager (optional)"))


# The stage forms of the page by the prefix their fields are posted with.
STAGE_FORMS: dict[str, type[StageChangeForm]] = {
    "request": PromotionRequestForm,
    "promote": PromoteForm,
    "change": StageChangeForm,
}
