"""Forms of the manager's pipeline: the board's filters and move dialog, decisions, stuck-factory
actions, reassignment and bulk edits, and the team page's period.

They check shape only; the rules (overrides and their reasons, who may own a factory, a
follow-up's date) live in the services, whose messages the views put by these fields.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from crm.forms import DateField, NamedLength, NamedRange, PageForm, QueryForm, record_id
from crm.models.visit import REVIEW_NOTE_MAX
from crm.services.factories.search import SEARCH_MAX
from crm.services.growth.promotions import REASON_MAX


def _choices(field: SelectField, everything: str | None, choices: list[tuple[str, str]]) -> None:
    first = [SelectChoice("", everything)] if everything is not None else []
    field.choices = [*first, *(SelectChoice(value, label) for value, label in choices)]


class DecideForm(PageForm):
    decision = RadioField(
        _l("Decision"),
        choices=[SelectChoice("approve", _l("Approve")), SelectChoice("refuse", _l("Refuse"))],
        validators=[DataRequired(_l("Choose approve or refuse."))],
    )
    note = TextAreaField(
        _l("Note"),
        validators=[NamedLength(max=REASON_MAX)],
        description=_l("Required when you refuse or override: the rep sees it."),
        render_kw={"rows": 2},
    )
    override = BooleanField(_l("Override: approve although the factory does not qualify now"))


class BulkApproveForm(PageForm):
    """Approve the ticked eligible requests at once; the ids come as `change_ids`, and nothing
    changes until `confirm` comes back from the page that names them."""

    confirm = HiddenField()


class QueueFilterForm(QueryForm):
    """The decision queue's filters and order, read from the URL query (a GET form)."""

    belt = SelectField(_l("Belt"), validate_choice=False)
    rep = SelectField(_l("Rep"), validate_choice=False)
    stage = SelectField(_l("Now in"), validate_choice=False)
    since = DateField(_l("Asked on or before"), validators=[Optional()])
    order = SelectField(
        _l("Order"),
        choices=[
            SelectChoice("", _l("Waiting longest first")),
            SelectChoice("name", _l("By name")),
            SelectChoice("stage", _l("By stage")),
        ],
        validate_choice=False,
    )

    def __init__(
        self,
        formdata,
        *,
        belt_choices: list[tuple[str, str]],
        rep_choices: list[tuple[str, str]],
        stage_choices: list[tuple[str, str]],
    ) -> None:
        super().__init__(formdata)
        _choices(self.belt, _l("Every belt"), belt_choices)
        _choices(self.rep, _l("Anyone's"), rep_choices)
        _choices(self.stage, _l("Any stage"), stage_choices)


# --- the board ------------------------------------------------------------------------------


class BoardFilterForm(QueryForm):
    """The board's filters, read from the URL query (a GET form: no CSRF token)."""

    q = SearchField(
        _l("Factory name"),
        validators=[NamedLength(max=SEARCH_MAX)],
        render_kw={"autocomplete": "off", "enterkeyhint": "search"},
    )
    belt = SelectField(_l("Belt"), validate_choice=False)
    rep = SelectField(_l("Rep"), validate_choice=False)
    category = SelectField(_l("Category"), validate_choice=False)
    key = SelectField(_l("Key account"), validate_choice=False)
    flag = SelectField(_l("Needs attention"), validate_choice=False)
    order = SelectField(
        _l("Order"),
        choices=[
            SelectChoice("", _l("Waiting longest")),
            SelectChoice("name", _l("By name")),
        ],
        validate_choice=False,
    )

    def __init__(
        self,
        formdata,
        *,
        belt_choices: list[tuple[str, str]],
        rep_choices: list[tuple[str, str]],
        category_choices: list[tuple[str, str]],
        flag_choices: list[tuple[str, str]],
    ) -> None:
        super().__init__(formdata)
        _choices(self.belt, _l("Every belt"), belt_choices)
        _choices(self.rep, _l("Anyone's"), rep_choices)
        _choices(self.category, _l("Every category"), category_choices)
        _choices(self.key, _l("Any"), [("yes", _l("Key accounts")), ("no", _l("Other accounts"))])
        _choices(self.flag, _l("Any"), flag_choices)


class MoveForm(PageForm):
    """The move dialog: the target column, the override tick and the reason."""

    to = HiddenField(validators=[InputRequired()])
    override = BooleanField(_l("Override: I make this move although it does not qualify"))
    reason = TextAreaField(
        _l("Reason"), validators=[NamedLength(max=REASON_MAX)], render_kw={"rows": 3}
    )


# --- stuck factories: one-click actions ------------------------------------------------------


class ScheduleForm(PageForm):
    """A follow-up in some days, for the factory's rep; `days` comes from the button pressed."""

    days = IntegerField(
        _l("In how many days"),
        validators=[InputRequired(_l("Pick when.")), NamedRange(min=0, max=365)],
    )
    next = HiddenField()


class ReassignForm(PageForm):
    """One factory to another rep (the stuck list's row, the factory's own menu)."""

    to_rep = SelectField(
        _l("New rep"), coerce=record_id, validate_choice=False, validators=[InputRequired()]
    )
    next = HiddenField()
    confirmed = HiddenField()  # "yes" once the manager has confirmed (the stuck list asks)

    def __init__(self, *args, rep_choices: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.to_rep.choices = [SelectChoice(value, label) for value, label in rep_choices]


class PromoteForm(PageForm):
    """An eligible factory one stage up at once (the stuck list's Promote)."""

    next = HiddenField()


# --- reassignment and bulk edits --------------------------------------------------------------

BULK_ACTIONS = ("reassign", "key_on", "key_off")


class BulkEditForm(PageForm):
    """The ticked factories (`factory_ids`) to another rep, or their key-account flag changed."""

    action = RadioField(
        _l("What to do with the ticked factories"),
        choices=[
            SelectChoice("reassign", _l("Reassign to a rep")),
            SelectChoice("key_on", _l("Mark as key accounts")),
            SelectChoice("key_off", _l("Unmark as key accounts")),
        ],
        default="reassign",
        validators=[InputRequired(_l("Choose what to do."))],
    )
    to_rep = SelectField(_l("New rep"), validate_choice=False)
    every_listed = BooleanField(_l("Every factory listed"))

    def __init__(self, *args, rep_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.to_rep, _l("Choose a rep"), rep_choices)


class HandOverForm(PageForm):
    """Everything of one rep (factories, open follow-ups, open tasks) to another."""

    from_rep = SelectField(_l("From rep"), validate_choice=False)
    to_rep = SelectField(_l("To rep"), validate_choice=False)
    follow_ups_only = BooleanField(_l("Only the open follow-ups (the factories stay)"))

    def __init__(self, *args, rep_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _choices(self.from_rep, _l("Choose a rep"), rep_choices)
        _choices(self.to_rep, _l("Choose a rep"), rep_choices)


# --- the team page ----------------------------------------------------------------------------


class PeriodForm(QueryForm):
    """The team page's and the reports' period, read from the URL query."""

    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("To"), validators=[Optional()])


# --- flagged visits ----------------------------------------------------------------------------


class ReviewVisitForm(PageForm):
    """A flagged visit accepted with a note, or disputed (the rep answers)."""

    outcome = RadioField(
        _l("Outcome"),
        choices=[
            SelectChoice("accept", _l("Accept the visit")),
            SelectChoice("dispute", _l("Dispute the visit")),
        ],
        validators=[DataRequired(_l("Choose accept or dispute."))],
    )
    note = TextAreaField(
        _l("Note"),
        validators=[NamedLength(max=REVIEW_NOTE_MAX)],
        description=_l("Required: the rep sees it."),
        render_kw={"rows": 2},
    )


class CloseReviewForm(PageForm):
    """A disputed visit closed, with a note if the manager has one."""

    note = TextAreaField(
        _l("Closing note"), validators=[NamedLength(max=REVIEW_NOTE_MAX)], render_kw={"rows": 2}
    )
