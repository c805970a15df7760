"""Forms of the admin's users, teams, belts and audit pages: shape only, the rules are in the
services (crm.services.accounts.lifecycle, teams), whose messages the views put by these fields."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    FloatField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from crm.forms import DateField, IdField, NamedLength, NamedRange, PageForm, QueryForm
from crm.models.team import BELT_CODE_MAX, TEAM_NAME_MAX
from crm.models.user import EMAIL_MAX, NAME_MAX
from crm.services.accounts.teams import BELT_LIMITS
from crm.services.privacy import erasure
from crm.values import id_or_none, ids_of

ROLE_LABELS = {
    "admin": _l("Admin"),
    "manager": _l("Manager"),
    "rep": _l("Field staff"),
    "factory": _l("Factory user"),
}
LANGUAGES = [
    SelectChoice("", _l("As the browser")),
    SelectChoice("en", "English"),
    SelectChoice("zh_Hans", "简体中文"),
]


def set_choices(field, choices, everything=None) -> None:
    first = [SelectChoice("", everything)] if everything is not None else []
    # A former user's marker reads as such here too (crm.services.privacy.erasure).
    field.choices = [
        *first,
        *(SelectChoice(str(value), erasure.shown(label)) for value, label in choices),
    ]


class UserFilterForm(QueryForm):
    """The user list's search and filters, read from the URL query (a GET form)."""

    q = StringField(
        _l("Name, e-mail or phone"), validators=[Optional(), NamedLength(max=EMAIL_MAX)]
    )
    role = SelectField(_l("Role"), validate_choice=False)
    team = SelectField(_l("Team"), validate_choice=False)
    belt = SelectField(_l("Belt"), validate_choice=False)
    active = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("", _l("Active and deactivated")),
            SelectChoice("1", _l("Active")),
            SelectChoice("0", _l("Deactivated")),
        ],
        validate_choice=False,
    )


class UserForm(PageForm):
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role, label) for role, label in ROLE_LABELS.items()],
        validators=[DataRequired(_l("Choose a role."))],
    )
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Enter the user's name.")),
            NamedLength(max=NAME_MAX),
        ],
        render_kw={"autocomplete": "off"},
    )
    email = StringField(
        _l("E-mail"),
        validators=[Optional(), NamedLength(max=EMAIL_MAX)],
        render_kw={"autocapitalize": "none", "spellcheck": "false", "inputmode": "email"},
        description=_l("An e-mail address, a mobile number, or both: either signs in."),
    )
    phone = StringField(
        _l("Mobile number"),
        validators=[Optional(), NamedLength(max=40)],
        render_kw={"inputmode": "tel"},
        description=_l("11 digits, starting with 1; +86 may be written before it."),
    )
    locale = SelectField(_l("Language"), choices=LANGUAGES, validate_choice=False)
    team_id = SelectField(
        _l("Team (field staff)"), validate_choice=False, description=_l("The team a rep works in.")
    )
    team_ids = SelectMultipleField(
        _l("Teams led (manager)"),
        validate_choice=False,
        description=_l("A manager may lead several teams."),
    )
    factory_search = StringField(
        _l("Factory (factory user)"),
        validators=[Optional(), NamedLength(max=100)],
        description=_l("Type part of its name, its pinyin or its credit code, then save."),
    )
    # The factory chosen: kept from the search that found it, or picked from its matches.
    factory_id = IdField(_l("Factory"), validators=[Optional()])


class DeactivateForm(PageForm):
    """Who takes over the leaving rep's work: one rep, or one per belt (fields `belt_<id>`)."""

    to_rep = SelectField(_l("Hand everything over to"), validate_choice=False)


class BeltForm(PageForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(_l("Enter a code.")), NamedLength(max=BELT_CODE_MAX)],
        description=_l("Lower case letters, digits and hyphens, e.g. yongkang-hardware."),
        render_kw={"autocapitalize": "none", "spellcheck": "false"},
    )
    name_zh = StringField(_l("Name in Chinese"))
    name_en = StringField(_l("Name in English"))
    city_zh = StringField(_l("City in Chinese"))
    city_en = StringField(_l("City in English"))
    province_zh = StringField(_l("Province in Chinese"))
    province_en = StringField(_l("Province in English"))
    category_zh = StringField(_l("Main category in Chinese"))
    category_en = StringField(_l("Main category in English"))
    lat = FloatField(
        _l("Centre latitude"),
        validators=[InputRequired(_l("Enter a latitude, e.g. 28.9.")), NamedRange(-90, 90)],
        render_kw={"inputmode": "decimal"},
    )
    lng = FloatField(
        _l("Centre longitude"),
        validators=[InputRequired(_l("Enter a longitude, e.g. 120.04.")), NamedRange(-180, 180)],
        render_kw={"inputmode": "decimal"},
    )
    team_id = SelectField(_l("Team"), validate_choice=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, limit in BELT_LIMITS.items():
            self[name].validators = [
                DataRequired(_l("Fill this in.")),
                NamedLength(max=limit),
            ]

    def values(self) -> dict:
        values = {name: self[name].data for name in ("code", *BELT_LIMITS, "lat", "lng")}
        values["team_id"] = id_or_none(self.team_id.data)
        return values


class TeamForm(PageForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Enter the team's name.")),
            NamedLength(max=TEAM_NAME_MAX),
        ],
    )
    manager_ids = SelectMultipleField(_l("Managers"), validate_choice=False)
    rep_ids = SelectMultipleField(_l("Field staff"), validate_choice=False)
    belt_ids = SelectMultipleField(_l("Belts"), validate_choice=False)


class AuditFilterForm(QueryForm):
    """The audit log's filters, read from the URL query (a GET form)."""

    actor = StringField(
        _l("Actor"),
        validators=[Optional(), NamedLength(max=100)],
        description=_l("A user's id, login or name, or a job's name."),
    )
    user = SelectField(
        _l("User"),
        validate_choice=False,
        description=_l("What this user did, and what was done to their account."),
    )
    factory = StringField(
        _l("Factory"),
        validators=[Optional(), NamedLength(max=100)],
        description=_l("A factory's id or part of its name: it and its tasks, visits, figures."),
    )
    record_type = SelectField(_l("Kind of record"), validate_choice=False)
    record_id = IdField(_l("Record id"), validators=[Optional()])
    action = SelectField(_l("Action"), validate_choice=False)
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("To"), validators=[Optional()])


def ids(values) -> list[int]:
    return ids_of([str(value) for value in values or []])


class ConfirmForm(PageForm):
    """A button's post (reactivate, issue a reset link): no fields but the CSRF token."""


class EraseForm(PageForm):
    """An erasure's confirmation: the person's name, typed (crm.services.privacy.erasure)."""

    confirmation = StringField(
        _l("Type their name to confirm"), validators=[NamedLength(max=NAME_MAX)]
    )
