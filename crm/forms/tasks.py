"""Forms of the checklist's task actions: tick, reopen, waive, send back, a video shoot, a new task.

They check shape only (required, lengths, a date); the rules (who waives a required
item, what a web address may be, that a measured item is judged) live in
crm.services.growth.tasks, whose messages the view puts by these fields.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField, URLField
from wtforms.validators import InputRequired, Length, Optional

from crm.forms import CleanText, DateField, NamedLength, PageForm
from crm.models.stage import TITLE_MAX
from crm.models.task import REASON_MAX, URL_MAX


class TaskActionForm(PageForm):
    """A button that moves a task (mark done, accept, reopen): only the CSRF token travels."""


class WaiveForm(PageForm):
    waive_reason = TextAreaField(
        _l("Why is it waived?"),
        validators=[InputRequired(_l("Say why this item is waived.")), NamedLength(max=REASON_MAX)],
        render_kw={"rows": 2},
    )


class SendBackForm(PageForm):
    send_back_reason = TextAreaField(
        _l("What should the factory change?"),
        validators=[
            InputRequired(_l("Say what the factory should change.")),
            NamedLength(max=REASON_MAX),
        ],
        description=_l("The factory sees this."),
        render_kw={"rows": 2},
    )


class VideoForm(PageForm):
    """A video shoot's date, and its link once delivered (the link marks the shoot done)."""

    shoot_on = DateField(
        _l("Shoot date"),
        validators=[Optional()],
        format="%Y-%m-%d",
    )
    video_url = URLField(
        _l("Video link"),
        validators=[NamedLength(max=URL_MAX)],
        description=_l("Adding the link marks the shoot done."),
        render_kw={"inputmode": "url", "autocomplete": "off", "placeholder": "https://"},
    )

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if self.shoot_on.data is None and not (self.video_url.data or "").strip():
            self.shoot_on.errors = [_l("Enter a shoot date, a video link or both.")]
            return False
        return True


class AdHocTaskForm(PageForm):
    """A task a rep adds by hand to the factory's checklist (optional for promotion)."""

    title = StringField(
        _l("Title"),
        validators=[
            InputRequired(_l("Enter a title of 1 to %(count)d characters.", count=TITLE_MAX)),
            Length(
                max=TITLE_MAX,
                message=_l("Enter a title of 1 to %(count)d characters.", count=TITLE_MAX),
            ),
            CleanText(single_line=True),
        ],
        render_kw={"autocomplete": "off"},
    )
    due_on = DateField(_l("Due date"), validators=[Optional()], format="%Y-%m-%d")
