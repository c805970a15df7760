"""Forms of the working calendar: the admin's days off and make-up working days, a factory's
closure, a rep's leave.

They check shape only; the rules (days in order, within range, a stand-in of the same team)
live in crm.services.calendar, whose messages the views put by these fields.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional

from crm.forms import CleanText, DateField, IdField, NamedLength, PageForm
from crm.models.closure import CLOSURE_REASON_MAX
from crm.models.system import HOLIDAY_NAME_MAX


class CalendarDayForm(PageForm):
    """Add a day to the install's calendar."""

    day = DateField(_l("Day"), validators=[InputRequired(_l("Enter the day."))])
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("holiday", _l("Day off (public holiday)")),
            SelectChoice("workday", _l("Make-up working day")),
        ],
        validators=[InputRequired(_l("Choose a day off or a make-up working day."))],
    )
    name = StringField(
        _l("Name of the day"),
        validators=[NamedLength(max=HOLIDAY_NAME_MAX), CleanText(single_line=True)],
        description=_l("For example: Spring Festival."),
    )


class RemoveDayForm(PageForm):
    day = DateField(_l("Day"), validators=[InputRequired(_l("Enter the day."))])


class SeedYearForm(PageForm):
    year = IntegerField(_l("Year"), validators=[InputRequired(_l("Enter the year."))])


class ClosureForm(PageForm):
    """A factory's closure: from, until (both included), and why."""

    starts_on = DateField(_l("Closed from"), validators=[Optional()])
    ends_on = DateField(_l("Until (last closed day)"), validators=[Optional()])
    reason = StringField(
        _l("Reason"),
        validators=[NamedLength(max=CLOSURE_REASON_MAX), CleanText(single_line=True)],
        description=_l("For example: Spring Festival break."),
    )


class LeaveForm(PageForm):
    """A rep's leave: who, from, until (both included), and who stands in."""

    rep = SelectField(_l("Rep on leave"), coerce=str, validate_choice=False)
    stand_in = SelectField(_l("Stand-in"), coerce=str, validate_choice=False)
    starts_on = DateField(_l("From"), validators=[Optional()])
    ends_on = DateField(_l("Until (last day of leave)"), validators=[Optional()])


class RemoveClosureForm(PageForm):
    closure_id = IdField(validators=[InputRequired(_l("Choose the closure to remove."))])


class RemoveLeaveForm(PageForm):
    leave_id = IdField(validators=[InputRequired(_l("Choose the leave to remove."))])
