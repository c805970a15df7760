"""Forms of the inbox, of the user's e-mail choices and of the admin's "run now"."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectMultipleField
from wtforms.validators import DataRequired, InputRequired

from crm.forms import IdField, PageForm


class ReadForm(PageForm):
    """Mark one notification read; with `open`, go on to what it is about."""

    notification_id = IdField(validators=[InputRequired()])
    open = BooleanField()


class ReadAllForm(PageForm):
    pass


class EmailKindsForm(PageForm):
    kinds = SelectMultipleField(_l("Also send me an e-mail when"), choices=[], validate_choice=True)

    def __init__(self, *args, choices: list[tuple[str, str]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kinds.choices = choices or []


class RunJobForm(PageForm):
    job = HiddenField(validators=[DataRequired()])
