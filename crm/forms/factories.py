"""Forms of the staff's factory pages: the list's filters, figures, stage moves, contacts, edits.

They check shape only; the rules (a metric's range, no future month, overrides and
their reasons, a phone's digits, a shop link's scheme, a credit code) live in the
services (crm.services.growth.snapshots, promotions, factories), whose messages the view puts
by these fields.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    MonthField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from crm.forms import CleanText, IdField, NamedLength, PageForm, QueryForm
from crm.models.factory import (
    ADDRESS_MAX,
    CATEGORY_MAX,
    CONTACT_NAME_MAX,
    CONTACT_PHONE_MAX,
    CONTACT_ROLE_MAX,
    CREDIT_CODE_LENGTH,
    CREDIT_CODE_OVERRIDE_MAX,
    FACTORY_NAME_MAX,
    URL_MAX,
    WECHAT_MAX,
)
from crm.models.stage import METRIC_CODE_MAX
from crm.services.factories.list_filters import SEARCH_MAX
from crm.services.growth.promotions import REASON_MAX

# What a person may type as a figure ("72.5", "72,5 %", "1 250 000"); the service parses it.
VALUE_TEXT_MAX = 40


class SnapshotForm(PageForm):
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
    return TextAreaField(label, validators=[NamedLength(max=REASON_MAX)], render_kw={"rows": 2})


class StageChangeForm(PageForm):
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


# --- the factory list ---------------------------------------------------------------------


def _choices(field: SelectField, everything: str, choices: list[tuple[str, str]]) -> None:
    field.choices = [
        SelectChoice("", everything),
        *(SelectChoice(value, label) for value, label in choices),
    ]


class FactoryFilterForm(QueryForm):
    """The list's search and filters, read from the URL query (a GET form: no CSRF token)."""

    q = SearchField(
        _l("Search by name or credit code"),
        validators=[NamedLength(max=SEARCH_MAX)],
        render_kw={"autocomplete": "off", "enterkeyhint": "search"},
    )
    stage = SelectField(_l("Stage"), validate_choice=False)
    status = SelectField(_l("Status"), validate_choice=False)
    flag = SelectField(_l("Needs attention"), validate_choice=False)
    owner = SelectField(_l("Rep"), validate_choice=False)

    def __init__(
        self,
        formdata,
        *,
        stage_choices: list[tuple[str, str]],
        status_choices: list[tuple[str, str]],
        flag_choices: list[tuple[str, str]],
        owner_choices: list[tuple[str, str]],
    ) -> None:
        super().__init__(formdata)
        _choices(self.stage, _l("Every stage"), stage_choices)
        _choices(self.status, _l("Every status"), status_choices)
        _choices(self.flag, _l("Any"), flag_choices)
        _choices(self.owner, _l("Anyone's"), owner_choices)


class ClaimForm(PageForm):
    """A rep's claim of an unowned prospect; `next` is where the page goes back to."""

    next = HiddenField()


# --- contacts and the factory's details ---------------------------------------------------


class ContactForm(PageForm):
    """A person at the factory; posted with the prefix "contact" beside the page's other forms."""

    name = StringField(
        _l("Name"),
        validators=[
            InputRequired(_l("Enter the contact's name.")),
            NamedLength(max=CONTACT_NAME_MAX),
            CleanText(single_line=True),
        ],
        render_kw={"autocomplete": "off"},
    )
    role = StringField(
        _l("Role (optional)"),
        validators=[NamedLength(max=CONTACT_ROLE_MAX), CleanText(single_line=True)],
        description=_l("Such as owner, sales manager or customer service."),
    )
    phone = StringField(
        _l("Phone (optional)"),
        validators=[NamedLength(max=CONTACT_PHONE_MAX), CleanText(single_line=True)],
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"},
    )
    wechat_id = StringField(
        _l("WeChat ID (optional)"),
        validators=[NamedLength(max=WECHAT_MAX), CleanText(single_line=True)],
        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"},
    )


class FactoryForm(PageForm):
    """What any member of staff in scope edits: name, category, address, shop link, location."""

    name = StringField(
        _l("Factory name"),
        validators=[
            InputRequired(_l("Enter the factory's name.")),
            NamedLength(max=FACTORY_NAME_MAX),
            CleanText(single_line=True),
        ],
    )
    category = StringField(
        _l("Category (optional)"),
        validators=[NamedLength(max=CATEGORY_MAX), CleanText(single_line=True)],
        description=_l("What it makes, such as stainless steel cups."),
    )
    address = TextAreaField(
        _l("Address (optional)"),
        validators=[NamedLength(max=ADDRESS_MAX), CleanText()],
        render_kw={"rows": 2, "autocomplete": "street-address"},
    )
    shop_url = URLField(
        _l("Shop link (optional)"),
        validators=[NamedLength(max=URL_MAX), CleanText(single_line=True)],
        render_kw={"inputmode": "url", "placeholder": "https://"},
    )
    lat = StringField(
        _l("Latitude"),
        validators=[NamedLength(max=32), CleanText(single_line=True)],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    lng = StringField(
        _l("Longitude"),
        validators=[NamedLength(max=32), CleanText(single_line=True)],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    # Local wall-clock times; the day's route reaches the factory within them.
    opens_at = TimeField(
        _l("Opens at (optional)"),
        validators=[Optional()],
        render_kw={"autocomplete": "off"},
    )
    closes_at = TimeField(
        _l("Closes at (optional)"),
        validators=[Optional()],
        render_kw={"autocomplete": "off"},
    )


class ManagedFactoryForm(FactoryForm):
    """A manager's or an admin's edit: the belt, the credit code and the key-account flag too."""

    belt_id = SelectField(_l("Belt"), coerce=int, validate_choice=False)
    credit_code = StringField(
        _l("Unified social credit code"),
        validators=[NamedLength(max=CREDIT_CODE_LENGTH + 8), CleanText(single_line=True)],
        description=_l("18 characters; a prospect may have none yet."),
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    # Rendered for admins alone (crm.scope "override_credit_code_check"); anyone else who
    # posts it is refused by the service.
    credit_code_override_reason = TextAreaField(
        _l("Record it anyway, because (admins only)"),
        validators=[NamedLength(max=CREDIT_CODE_OVERRIDE_MAX), CleanText()],
        description=_l(
            "Only for a code that is right as printed but fails its check characters, such as "
            "one issued before the national standard in Xiamen's pilot. Leave empty otherwise."
        ),
        render_kw={"rows": 2},
    )
    is_key_account = BooleanField(_l("Key account"))

    def __init__(self, *args, belt_choices: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.belt_id.choices = [SelectChoice(value, label) for value, label in belt_choices]


class MergeForm(PageForm):
    """Merge another factory into this one (crm.services.trust.merge)."""

    other_id = IdField(
        _l("The duplicate's number"),
        validators=[InputRequired(_l("Choose the duplicate to merge into this factory."))],
        description=_l("The number after /factories/ in its address."),
    )
