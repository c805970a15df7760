"""Forms of the manager's pipeline: deciding a stage-change request."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from crm.services.promotions import REASON_MAX


class DecideForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[SelectChoice("approve", _l("Approve")), SelectChoice("refuse", _l("Refuse"))],
        validators=[DataRequired(_l("Choose approve or refuse."))],
    )
    note = TextAreaField(
        _l("Note"),
        validators=[Length(max=REASON_MAX)],
        description=_l("Required when you refuse: the rep sees it."),
        render_kw={"rows": 2},
    )
