"""Forms of follow-ups: schedule one (a quick pick or a date), move one, complete or cancel one.

They check shape only; the rules (no past date, the reason's length, only an open
follow-up changes) live in crm.services.field.followups, whose messages the view puts by
these fields.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from crm.forms import DateField, PageForm
from crm.models.followup import REASON_MAX

# The quick picks the pages offer, in days; a phone may send any offset up to a year.
QUICK_PICKS = (3, 7, 14)
MAX_DAYS_AHEAD = 366
NEXT_MAX = 300


class FollowUpActionForm(PageForm):
    """Complete or cancel: nothing but the way back (and the CSRF token)."""

    next = HiddenField(validators=[Optional(), Length(max=NEXT_MAX)])


class RescheduleForm(FollowUpActionForm):
    due_on = DateField(_l("New date"), validators=[Optional()])


class ScheduleForm(RescheduleForm):
    """A quick-pick button sends `in_days`; the date's own button sends `due_on` alone."""

    due_on = DateField(_l("Or on a date"), validators=[Optional()])
    in_days = IntegerField(
        validators=[
            Optional(),
            NumberRange(min=0, max=MAX_DAYS_AHEAD, message=_l("Pick a date within a year.")),
        ]
    )
    reason = StringField(
        _l("Reason"),
        validators=[
            Length(
                max=REASON_MAX,
                message=_l("Use at most %(max)d characters for the reason.", max=REASON_MAX),
            )
        ],
    )
