"""The form of a prospect added in the street, and the duplicate check's query: shape only
(crm.services.factories.prospects and duplicates hold the rules)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from crm.forms import CleanText, NamedLength, PageForm, QueryForm
from crm.models.factory import (
    CATEGORY_MAX,
    CONTACT_NAME_MAX,
    CONTACT_PHONE_MAX,
    CREDIT_CODE_LENGTH,
    FACTORY_NAME_MAX,
)

# A coordinate as text: "29.123456", "-0.5".
COORDINATE_MAX = 32


def _line(limit: int) -> list:
    return [NamedLength(max=limit), CleanText(single_line=True)]


class ProspectForm(PageForm):
    """A factory met by chance: its name, where it is, who to call, what it makes, its belt."""

    name = StringField(
        _l("Factory name"),
        validators=[InputRequired(_l("Enter the factory's name.")), *_line(FACTORY_NAME_MAX)],
        render_kw={"autocomplete": "off"},
    )
    contact_name = StringField(
        _l("Contact name (optional)"),
        validators=_line(CONTACT_NAME_MAX),
        render_kw={"autocomplete": "off"},
    )
    contact_phone = StringField(
        _l("Phone (optional)"),
        validators=_line(CONTACT_PHONE_MAX),
        render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"},
    )
    category = StringField(
        _l("Category (optional)"),
        validators=_line(CATEGORY_MAX),
        render_kw={"placeholder": _l("Such as stainless steel cups")},
    )
    belt_id = SelectField(_l("Belt"), coerce=str, validate_choice=False)
    lat = StringField(
        _l("Latitude"),
        validators=_line(COORDINATE_MAX),
        render_kw={"inputmode": "decimal", "autocomplete": "off", "data-outbox-auto": True},
    )
    lng = StringField(
        _l("Longitude"),
        validators=_line(COORDINATE_MAX),
        render_kw={"inputmode": "decimal", "autocomplete": "off", "data-outbox-auto": True},
    )
    credit_code = StringField(
        _l("Unified social credit code (optional)"),
        validators=_line(CREDIT_CODE_LENGTH + 8),
        description=_l("Needed before it signs into stage 1, not now."),
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    save_anyway = HiddenField()

    def __init__(self, *args, belt_choices: list[tuple[int, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.belt_id.choices = [SelectChoice(str(value), label) for value, label in belt_choices]


class DuplicateQueryForm(QueryForm):
    """What the page has typed so far, for the list of likely duplicates."""

    name = StringField(validators=_line(FACTORY_NAME_MAX))
    contact_phone = StringField(validators=_line(CONTACT_PHONE_MAX))
    credit_code = StringField(validators=_line(CREDIT_CODE_LENGTH + 8))
    belt_id = StringField(validators=_line(12))
    lat = StringField(validators=_line(COORDINATE_MAX))
    lng = StringField(validators=_line(COORDINATE_MAX))
